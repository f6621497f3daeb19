/*  cds_codec: sealing and opening envelopes, budgeted decoding. See
 *  cds_codec.h for the order in which untrusted bytes are handled.
 *
 *  protobuf-c 1.4.1 sizes repeated fields from the input and allocates
 *  sizeof(struct) per submessage: a 2-byte empty Update costs ~110 heap
 *  bytes, so a 4 MiB frame could ask for ~200 MiB. The counting allocator
 *  below caps one decode at a byte budget (cumulative; frees do not give
 *  budget back). Its free is plain free(), so decoded messages can be
 *  released with protobuf_c_message_free_unpacked(msg, NULL). */
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_sign.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* State of one budgeted decode. */
typedef struct {
    size_t used;               /* bytes handed out so far */
    size_t limit;              /* budget */
    bool over;                 /* a request was refused for the budget */
    bool nomem;                /* malloc itself failed */
} budget_t;

static void *
budget_alloc(void *data, size_t size)
{
    budget_t *b = data;
    if (size > b->limit - b->used) {
        b->over = true;
        return NULL;
    }
    void *p = malloc(size ? size : 1);
    if (!p) {
        b->nomem = true;
        return NULL;
    }
    b->used += size;
    return p;
}

static void
budget_free(void *data, void *ptr)
{
    (void) data;
    free(ptr);
}

/* ---- the wire walker ----------------------------------------------------
 *
 * Hand-written because nothing we can link tells us a string's wire
 * length after a protobuf-c 1.4 unpack: the generated structs hold char *
 * only, and no Debian-packaged C protobuf library (protobuf-c, nanopb's
 * runtime is not packaged, upb is not a public library) exposes it. The
 * walk follows protobuf-c's own descriptors, so a field added to
 * proto/cdsync.proto is covered without touching this code. It checks
 * only what it needs (tags, lengths, strings); protobuf-c still does the
 * full decode after it. Cost: one pass over the bytes, memchr per string. */

/* One walk: the path of the field being looked at, grown and cut back as
 * the walk goes in and out of submessages. */
typedef struct {
    char path[CDS_WIRE_PATH_LEN];      /* "updates[3].value" */
    size_t plen;                       /* bytes used in path */
} walk_t;

/* Read a varint (at most 10 bytes). 0, or -1 when it runs past end. */
static int
wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* Append ".name" or "name[i]" to w->path (cut if it does not fit).
 * Returns the length to cut back to. */
static size_t
path_push(walk_t *w, const char *name, long index)
{
    size_t was = w->plen, room = sizeof w->path - w->plen;
    int n = index >= 0
                ? snprintf(w->path + w->plen, room, "%s%s[%ld]",
                           w->plen ? "." : "", name, index)
                : snprintf(w->path + w->plen, room, "%s%s",
                           w->plen ? "." : "", name);
    w->plen = n < 0 ? w->plen : (size_t) n >= room ? sizeof w->path - 1
                                                   : w->plen + (size_t) n;
    return was;
}

static int walk_message(walk_t *w, const ProtobufCMessageDescriptor *desc,
                        const uint8_t *p, const uint8_t *end, int depth);

/* One length-delimited field of desc: a string is scanned, a message is
 * walked, anything else (bytes, packed numbers, unknown) is skipped. */
static int
walk_field(walk_t *w, const ProtobufCFieldDescriptor *f, long index,
           const uint8_t *p, size_t n, int depth)
{
    if (!f || (f->type != PROTOBUF_C_TYPE_STRING
               && f->type != PROTOBUF_C_TYPE_MESSAGE))
        return CDS_OK;
    size_t was = path_push(w, f->name, index);
    int rc = CDS_OK;
    if (f->type == PROTOBUF_C_TYPE_STRING)
        rc = memchr(p, 0, n) ? CDS_EMALFORMED : CDS_OK;
    else
        rc = walk_message(w, f->descriptor, p, p + n, depth + 1);
    if (rc == CDS_OK) {
        w->plen = was;
        w->path[was] = '\0';
    }
    return rc;                 /* on failure the path names the field */
}

static int
walk_message(walk_t *w, const ProtobufCMessageDescriptor *desc,
             const uint8_t *p, const uint8_t *end, int depth)
{
    uint32_t seen[32] = { 0 };         /* occurrences per field index */
    if (depth > CDS_WIRE_MAX_DEPTH)
        return CDS_EMALFORMED;
    while (p < end) {
        uint64_t key, v;
        if (wire_varint(&p, end, &key) != 0 || (key >> 3) == 0
            || (key >> 3) > 0x1fffffff)
            return CDS_EMALFORMED;
        switch (key & 7) {
        case 0:
            if (wire_varint(&p, end, &v) != 0)
                return CDS_EMALFORMED;
            break;
        case 1:
        case 5: {
            size_t n = (key & 7) == 1 ? 8 : 4;
            if ((size_t) (end - p) < n)
                return CDS_EMALFORMED;
            p += n;
            break;
        }
        case 2: {
            if (wire_varint(&p, end, &v) != 0 || v > (uint64_t) (end - p))
                return CDS_EMALFORMED;
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field(desc,
                                                        (unsigned) (key >> 3));
            long index = -1;
            if (f && f->label == PROTOBUF_C_LABEL_REPEATED) {
                size_t fi = (size_t) (f - desc->fields);
                index = fi < 32 ? (long) seen[fi]++ : 0;
            }
            if (walk_field(w, f, index, p, (size_t) v, depth) != CDS_OK)
                return CDS_EMALFORMED;
            p += v;
            break;
        }
        default:               /* groups (3, 4) and 6, 7: not proto3 */
            return CDS_EMALFORMED;
        }
    }
    return CDS_OK;
}

int
cds_msg_check_wire(const ProtobufCMessageDescriptor *desc,
                   const uint8_t *data, size_t len, char *path,
                   size_t path_len)
{
    walk_t w = { .plen = 0 };
    w.path[0] = '\0';
    /* An empty body may come as data NULL (protobuf-c's empty bytes):
     * NULL + 0 is undefined behaviour, found by tests/fuzz/envelope. */
    int rc = len == 0 ? CDS_OK : walk_message(&w, desc, data, data + len, 0);
    if (path && path_len)
        snprintf(path, path_len, "%s",
                 rc == CDS_OK ? "" : w.plen ? w.path : "wire");
    return rc;
}

/* ---- bounds on the answers an agent decodes ------------------------------ */

static bool
text_over(const char *s, size_t max)
{
    return s && strnlen(s, max + 1) > max;
}

/* The aggregator's texts in Ack and HelloAnswer end up in the agent's log
 * and receipts: bounded like anything else from the wire. CDS_OK, or
 * CDS_EMALFORMED with the field in why. Other messages: CDS_OK (the
 * aggregator checks its inputs field by field, ingest.c). */
static int
answer_bounds(const ProtobufCMessageDescriptor *desc,
              const ProtobufCMessage *msg, char *why, size_t why_len)
{
    const char *bad = NULL;
    if (desc == &cdsync__ack__descriptor) {
        const Cdsync__Ack *a = (const Cdsync__Ack *) msg;
        if (text_over(a->message, CDS_MAX_ANSWER_TEXT))
            bad = "message";
        for (size_t i = 0; !bad && i < a->n_rejections; i++)
            if (text_over(a->rejections[i]->field, CDS_MAX_CODE))
                bad = "rejections.field";
            else if (text_over(a->rejections[i]->message,
                               CDS_MAX_ANSWER_TEXT))
                bad = "rejections.message";
    } else if (desc == &cdsync__hello_answer__descriptor) {
        const Cdsync__HelloAnswer *h = (const Cdsync__HelloAnswer *) msg;
        if (text_over(h->message, CDS_MAX_ANSWER_TEXT))
            bad = "message";
    }
    if (bad && why && why_len)
        snprintf(why, why_len, "%s", bad);
    return bad ? CDS_EMALFORMED : CDS_OK;
}

/* ---- budgeted decode ----------------------------------------------------- */

static void *
decode(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
       size_t len, size_t budget, int *err, char *why, size_t why_len)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (why && why_len)
        why[0] = '\0';
    assert(desc);
    if (len > CDS_MAX_MSG_BYTES) {
        *err = CDS_ETOOBIG;
        return NULL;
    }
    /* Before unpack: a string with a NUL would be cut short by it. */
    *err = cds_msg_check_wire(desc, data, len, why, why_len);
    if (*err != CDS_OK)
        return NULL;
    budget_t b = { .used = 0, .limit = budget };
    ProtobufCAllocator alloc = { budget_alloc, budget_free, &b };
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, &alloc, len,
                                                      data);
    if (!msg) {
        *err = b.over ? CDS_ETOOBIG : b.nomem ? CDS_ENOMEM : CDS_EMALFORMED;
        if (why && why_len)
            snprintf(why, why_len, "%s", b.over ? "budget" : "wire");
        return NULL;
    }
    *err = answer_bounds(desc, msg, why, why_len);
    if (*err != CDS_OK) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return NULL;
    }
    return msg;
}

void *
cds_msg_decode_budget(const ProtobufCMessageDescriptor *desc,
                      const uint8_t *data, size_t len, size_t budget,
                      int *err)
{
    return decode(desc, data, len, budget, err, NULL, 0);
}

void *
cds_msg_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
               size_t len, int *err)
{
    return decode(desc, data, len, CDS_DECODE_BUDGET, err, NULL, 0);
}

void *
cds_msg_decode_why(const ProtobufCMessageDescriptor *desc,
                   const uint8_t *data, size_t len, int *err, char *why,
                   size_t why_len)
{
    return decode(desc, data, len, CDS_DECODE_BUDGET, err, why, why_len);
}

void
cds_msg_free(void *msg)
{
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
}

uint8_t *
cds_msg_encode(const ProtobufCMessage *msg, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return NULL;
    *len = protobuf_c_message_pack(msg, buf);
    return buf;
}

int
cds_envelope_seal(const cds_identity_t *id, Cdsync__Kind kind,
                  const uint8_t recipient[CDS_PK_BYTES], const uint8_t *body,
                  size_t body_len, uint8_t **out, size_t *out_len)
{
    uint8_t sig[CDS_SIG_BYTES];
    *out = NULL;
    *out_len = 0;
    if (body_len > CDS_MAX_MSG_BYTES)
        return CDS_ETOOBIG;    /* the peer's MAXMSGSIZE would drop it */
    int rc = cds_sign_body(id, (int) kind, recipient, body, body_len, sig);
    if (rc != CDS_OK)
        return rc;
    Cdsync__Envelope env = CDSYNC__ENVELOPE__INIT;
    env.version = CDS_PROTOCOL_VERSION;
    env.kind = kind;
    /* protobuf-c fields are not const; pack only reads them */
    env.signer.data = (uint8_t *) cds_identity_sign_pk(id);
    env.signer.len = CDS_PK_BYTES;
    env.body.data = (uint8_t *) body;
    env.body.len = body_len;
    env.signature.data = sig;
    env.signature.len = sizeof sig;
    if (protobuf_c_message_get_packed_size(&env.base) > CDS_MAX_MSG_BYTES)
        return CDS_ETOOBIG;
    *out = cds_msg_encode(&env.base, out_len);
    return *out ? CDS_OK : CDS_ENOMEM;
}

int
cds_envelope_seal_msg(const cds_identity_t *id, Cdsync__Kind kind,
                      const uint8_t recipient[CDS_PK_BYTES],
                      const ProtobufCMessage *msg, uint8_t **out,
                      size_t *out_len)
{
    size_t len = 0;
    uint8_t *body = cds_msg_encode(msg, &len);
    *out = NULL;
    *out_len = 0;
    if (!body)
        return CDS_ENOMEM;
    int rc = cds_envelope_seal(id, kind, recipient, body, len, out, out_len);
    free(body);
    return rc;
}

/* Known, non-zero Kind. protobuf-c stores any int32 in an enum field. */
static bool
kind_known(int kind)
{
    return kind != CDSYNC__KIND__KIND_UNSPECIFIED
           && protobuf_c_enum_descriptor_get_value(&cdsync__kind__descriptor,
                                                   kind) != NULL;
}

int
cds_envelope_decode(const uint8_t *data, size_t len, Cdsync__Envelope **env)
{
    int rc;
    *env = NULL;
    if (len > CDS_MAX_MSG_BYTES)
        return CDS_ETOOBIG;    /* before a single byte is parsed */
    Cdsync__Envelope *e =
        cds_msg_decode(&cdsync__envelope__descriptor, data, len, &rc);
    if (!e)
        return rc;
    if (e->version != CDS_PROTOCOL_VERSION)
        rc = CDS_EVERSION;     /* first: a v2 envelope may differ in shape */
    else if (e->signer.len != CDS_PK_BYTES
             || e->signature.len != CDS_SIG_BYTES || !kind_known(e->kind))
        rc = CDS_EMALFORMED;
    if (rc != CDS_OK) {
        cds_msg_free(e);
        return rc;
    }
    *env = e;
    return CDS_OK;
}

int
cds_envelope_verify(const Cdsync__Envelope *env,
                    const uint8_t recipient[CDS_PK_BYTES])
{
    if (env->signer.len != CDS_PK_BYTES
        || env->signature.len != CDS_SIG_BYTES)
        return CDS_EBADSIG;
    return cds_sign_verify(env->signer.data, (int) env->kind, recipient,
                           env->body.data, env->body.len,
                           env->signature.data);
}

int
cds_check_version_str(const char *s)
{
    size_t len = s ? strnlen(s, CDS_MAX_VERSION_STR + 1) : 0;
    if (len > CDS_MAX_VERSION_STR)
        return CDS_ETOOBIG;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7e)
            return CDS_EBADFIELD;
    return CDS_OK;
}

/* proto3 has no absent string: "" stands for NULL. Key fields and value
 * are never NULL in the view; optional text ("" on the wire) becomes NULL.
 * Either way the content hash is the same (NULL hashes as ""). */
static const char *
or_empty(const char *s)
{
    return s ? s : "";
}

static const char *
empty_to_null(const char *s)
{
    return s && s[0] ? s : NULL;
}

void
cds_update_from_pb(const Cdsync__Update *pb, cds_update_t *out)
{
    memset(out, 0, sizeof *out);
    out->seq = pb->seq;
    out->org_unit = or_empty(pb->org_unit);
    out->indicator = or_empty(pb->indicator);
    out->period = or_empty(pb->period);
    out->disagg = or_empty(pb->disagg);
    out->value = or_empty(pb->value);
    out->comment = empty_to_null(pb->comment);
    out->stored_by = empty_to_null(pb->stored_by);
    out->deleted = pb->deleted != 0;
    out->followup = pb->followup != 0;
    out->hlc = pb->hlc;
    out->created_ms = pb->created_ms;
    out->updated_ms = pb->last_updated_ms;
}

/* protobuf-c string fields are char *; pack only reads them. */
static char *
pb_str(const char *s)
{
    return (char *) (s ? s : protobuf_c_empty_string);
}

void
cds_update_to_pb(const cds_update_t *u, Cdsync__Update *pb)
{
    Cdsync__Update init = CDSYNC__UPDATE__INIT;
    *pb = init;
    pb->seq = u->seq;
    pb->org_unit = pb_str(u->org_unit);
    pb->indicator = pb_str(u->indicator);
    pb->period = pb_str(u->period);
    pb->disagg = pb_str(u->disagg);
    pb->value = pb_str(u->value);
    pb->comment = pb_str(u->comment);
    pb->stored_by = pb_str(u->stored_by);
    pb->deleted = u->deleted;
    pb->followup = u->followup;
    pb->hlc = u->hlc;
    pb->created_ms = u->created_ms;
    pb->last_updated_ms = u->updated_ms;
}
