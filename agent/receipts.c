/*  receipts: see receipts.h. */
#include "receipts.h"

#include "cds_err.h"
#include "cds_util.h"
#include "cdsync.pb-c.h"

#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>

const char *
receipts_status_name(int status)
{
    switch (status) {
    case CDSYNC__ACK_STATUS__ACK_OK:
        return "ok";
    case CDSYNC__ACK_STATUS__ACK_GAP:
        return "gap";
    case CDSYNC__ACK_STATUS__ACK_RETRY:
        return "retry";
    case CDSYNC__ACK_STATUS__ACK_REFUSED:
        return "refused";
    default:
        return "unknown";
    }
}

static int
print_one(const outbox_receipt_t *r, void *arg)
{
    FILE *out = arg;
    char c[64], v[64];
    fprintf(out, "%-6" PRId64 "  %-10" PRIu64 "  %-10" PRIu64 "  %-10" PRIu64
            "  %-8s  %-24s  %-24s  %s\n",
            r->id, r->first_seq, r->last_seq, r->acked_seq,
            receipts_status_name(r->status),
            r->committed_at_ms
                ? cds_format_time(c, sizeof c, r->committed_at_ms)
                : "-",
            cds_format_time(v, sizeof v, r->received_at_ms),
            r->error ? cds_strerror(r->error) : "");
    return 0;
}

static int
collect_one(const outbox_receipt_t *r, void *arg)
{
    size_t b64len = sodium_base64_encoded_len(r->envelope_len,
                                              sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64len);
    if (!b64)
        return CDS_ENOMEM;
    sodium_bin2base64(b64, b64len, r->envelope, r->envelope_len,
                      sodium_base64_VARIANT_ORIGINAL);
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:I, s:I, s:s}",
                          "id", (json_int_t)r->id,
                          "first_seq", (json_int_t)r->first_seq,
                          "last_seq", (json_int_t)r->last_seq,
                          "acked_seq", (json_int_t)r->acked_seq,
                          "status", receipts_status_name(r->status),
                          "error", r->error ? cds_strerror(r->error) : "",
                          "message", r->message,
                          "committed_at_ms", (json_int_t)r->committed_at_ms,
                          "received_at_ms", (json_int_t)r->received_at_ms,
                          "envelope_base64", b64);
    free(b64);
    if (!o || json_array_append_new(arg, o) != 0)
        return CDS_ENOMEM;
    return 0;
}

int
receipts_print(outbox_t *outbox, bool json, FILE *out)
{
    if (!json) {
        fprintf(out, "%-6s  %-10s  %-10s  %-10s  %-8s  %-24s  %-24s  %s\n",
                "ID", "FIRST",
                "LAST", "ACKED", "STATUS", "COMMITTED", "RECEIVED", "ERROR");
        return outbox_receipts_list(outbox, print_one, out);
    }
    json_t *arr = json_array();
    if (!arr)
        return CDS_ENOMEM;
    int rc = outbox_receipts_list(outbox, collect_one, arr);
    if (rc == CDS_OK) {
        json_dumpf(arr, out, JSON_INDENT(2));
        fputc('\n', out);
    }
    json_decref(arr);
    return rc;
}
