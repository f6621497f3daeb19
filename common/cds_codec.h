/*  cds_codec: the wire: sealing and opening signed envelopes, and bounded
 *  protobuf decoding.
 *
 *  Untrusted bytes are handled in this order (signify's discipline):
 *  size bound -> decode the small Envelope (byte-budgeted allocator) ->
 *  caller checks the signer is known and allowed -> signature over the raw
 *  body -> only then decode the body (byte-budgeted) -> validate fields.
 *  protobuf-c 1.4.1 unpack has no size or depth limit and no UTF-8 check,
 *  which is why every decode here goes through a counting allocator and
 *  every string is checked by the caller's validation step.
 *
 *  Strings: protobuf-c hands string fields over as NUL-terminated char *
 *  and drops their wire length, so "77\0999" would read as "77" here and
 *  as five bytes in any other decoder (the content hash would differ).
 *  Every decode therefore first walks the wire bytes (cds_msg_check_wire)
 *  and refuses, as CDS_EMALFORMED, a message with a NUL byte in any
 *  string field at any depth; after that strlen() == wire length. */
#ifndef CDS_CODEC_H
#define CDS_CODEC_H

#include "cds_id.h"
#include "cds_update.h"
#include "cdsync.pb-c.h"
#include <stddef.h>
#include <stdint.h>

#define CDS_PROTOCOL_VERSION 1
#define CDS_MAX_MSG_BYTES (4u << 20)       /* one message, checked by us */
/* Transport backstop (ZMQ_MAXMSGSIZE): libzmq drops frames above this
 * before we see them. Frames between CDS_MAX_MSG_BYTES and this are read,
 * rejected as too_big and recorded with their first CDS_REJECT_KEEP_BYTES,
 * so the operator sees them. */
#define CDS_MAX_FRAME_BYTES (8u << 20)
#define CDS_REJECT_KEEP_BYTES (64u << 10)
#define CDS_MAX_BATCH_UPDATES 1000         /* updates in one batch */
#define CDS_MAX_PROBE 256                  /* ChainPoints in one Hello */
#define CDS_MAX_REJECTIONS CDS_MAX_BATCH_UPDATES
#define CDS_DECODE_BUDGET (16u << 20)      /* heap bytes one decode may use */

/* Sign body (already encoded) for recipient and encode the Envelope into a
 * malloc'd buffer (*out, caller frees). CDS_OK or CDS_ENOMEM; CDS_ETOOBIG
 * when the envelope would exceed CDS_MAX_MSG_BYTES (the peer drops it). */
int cds_envelope_seal(const cds_identity_t *id, Cdsync__Kind kind,
                      const uint8_t recipient[CDS_PK_BYTES],
                      const uint8_t *body, size_t body_len, uint8_t **out,
                      size_t *out_len);
/* Encode msg (any protobuf-c message) and seal it. */
int cds_envelope_seal_msg(const cds_identity_t *id, Cdsync__Kind kind,
                          const uint8_t recipient[CDS_PK_BYTES],
                          const ProtobufCMessage *msg, uint8_t **out,
                          size_t *out_len);
/* Decode an envelope from untrusted bytes: length bound, budgeted decode,
 * version == 1, signer 32 bytes, signature 64 bytes, known kind. Does NOT
 * verify. CDS_OK (free *env with cds_msg_free), CDS_ETOOBIG,
 * CDS_EMALFORMED or CDS_EVERSION. */
int cds_envelope_decode(const uint8_t *data, size_t len,
                        Cdsync__Envelope **env);
/* Verify env's signature by env->signer for recipient. CDS_OK/CDS_EBADSIG. */
int cds_envelope_verify(const Cdsync__Envelope *env,
                        const uint8_t recipient[CDS_PK_BYTES]);
#define CDS_WIRE_MAX_DEPTH 8           /* nested messages the walker follows */
#define CDS_WIRE_PATH_LEN 96           /* "updates[999].stored_by" and more */

/* Walk the protobuf wire bytes of a message of type desc, following
 * protobuf-c's own descriptors: every length-delimited field of type
 * string is scanned for a NUL byte, every message field is walked the
 * same way (at most CDS_WIRE_MAX_DEPTH deep). CDS_OK, or CDS_EMALFORMED
 * with the offending field's path written to path ("updates[3].value",
 * or "wire" when the bytes do not parse); path may be NULL. */
int cds_msg_check_wire(const ProtobufCMessageDescriptor *desc,
                       const uint8_t *data, size_t len, char *path,
                       size_t path_len);
/* Budgeted decode of any message (body of a verified envelope), after
 * cds_msg_check_wire. NULL with *err = CDS_ETOOBIG or CDS_EMALFORMED
 * (CDS_ENOMEM if malloc itself fails). Free with cds_msg_free. */
void *cds_msg_decode(const ProtobufCMessageDescriptor *desc,
                     const uint8_t *data, size_t len, int *err);
/* cds_msg_decode that also names what was wrong when it returns NULL:
 * the field path of a string with a NUL byte, "wire" for bytes that do
 * not parse, "budget" for too_big ("" otherwise). why may be NULL. */
void *cds_msg_decode_why(const ProtobufCMessageDescriptor *desc,
                         const uint8_t *data, size_t len, int *err,
                         char *why, size_t why_len);
/* cds_msg_decode with an explicit heap budget in bytes (tests, tools). */
void *cds_msg_decode_budget(const ProtobufCMessageDescriptor *desc,
                            const uint8_t *data, size_t len, size_t budget,
                            int *err);
/* Free a decoded message. Safe on NULL. */
void cds_msg_free(void *msg);
/* Encode into a malloc'd buffer. NULL on allocation failure. */
uint8_t *cds_msg_encode(const ProtobufCMessage *msg, size_t *len);

#define CDS_MAX_VERSION_STR 64   /* catalog_version, agent_version */
/* A version label (Batch.catalog_version, Hello/Heartbeat.agent_version):
 * empty, or printable ASCII (0x20-0x7E) of at most CDS_MAX_VERSION_STR
 * bytes. CDS_OK, CDS_ETOOBIG or CDS_EBADFIELD. NULL is empty. */
int cds_check_version_str(const char *s);
/* Bound on the other strings of an answer the agent decodes (Ack.message,
 * Rejection.field/message, HelloAnswer.message): longer is malformed. */
#define CDS_MAX_ANSWER_TEXT 1024

/* View a decoded Update as a cds_update_t (borrows its strings). */
void cds_update_from_pb(const Cdsync__Update *pb, cds_update_t *out);
/* Fill a protobuf Update from u (borrows u's strings; no allocation). */
void cds_update_to_pb(const cds_update_t *u, Cdsync__Update *pb);

#endif
