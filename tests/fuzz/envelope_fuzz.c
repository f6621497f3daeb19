/*  envelope_fuzz: untrusted bytes through the aggregator's first steps:
 *  bounded envelope decode, signature check, then the body decode that
 *  follows a good signature, for every kind. */
#include "cds_codec.h"
#include "cds_err.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t recipient[CDS_PK_BYTES] = { 1 };
    Cdsync__Envelope *env = NULL;
    (void) fuzz_path("unused");
    if (cds_envelope_decode(data, size, &env) != CDS_OK)
        return 0;
    (void) cds_envelope_verify(env, recipient);
    static const ProtobufCMessageDescriptor *const bodies[] = {
        &cdsync__hello__descriptor, &cdsync__batch__descriptor,
        &cdsync__ack__descriptor, &cdsync__hello_answer__descriptor,
        &cdsync__heartbeat__descriptor, &cdsync__notice__descriptor,
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        int err = 0;
        void *m = cds_msg_decode(bodies[i], env->body.data, env->body.len,
                                 &err);
        cds_msg_free(m);
    }
    cds_msg_free(env);
    return 0;
}
