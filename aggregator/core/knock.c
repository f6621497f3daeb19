/*  knock: the refused handshakes still knocking. See knock.h; the SQL
 *  lives in knock_sql.h. */
#include "knock.h"

#include "cds_sql.h"
#include "cds_err.h"
#include "cds_util.h"
#include "knock_sql.h"
#include "table.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

const char *
knock_reason(int code)
{
    return code == CDS_EREVOKED      ? "revoked key"
           : code == CDS_EUNKNOWNKEY ? "unknown key"
                                     : "handshake failed";
}

static void
text_col(cds_sql_stmt_t *st, int i, char *buf, size_t len)
{
    const char *t = cds_sql_col_text(st, i);
    snprintf(buf, len, "%s", t ? t : "");
}

static void
read_row(cds_sql_stmt_t *st, knock_row_t *r)
{
    memset(r, 0, sizeof *r);
    r->has_key = cds_sql_col_bytes(st, 0) == CDS_PK_BYTES;
    if (r->has_key)
        sodium_bin2hex(r->curve_hex, sizeof r->curve_hex,
                       cds_sql_col_blob(st, 0), CDS_PK_BYTES);
    text_col(st, 1, r->address, sizeof r->address);
    r->code = cds_sql_col_int(st, 2);
    r->first_ms = (uint64_t) cds_sql_col_int64(st, 3);
    r->last_ms = (uint64_t) cds_sql_col_int64(st, 4);
    r->count = (uint64_t) cds_sql_col_int64(st, 5);
    r->has_agent = cds_sql_col_type(st, 6) != CDS_SQL_NULL;
    text_col(st, 6, r->fpr, sizeof r->fpr);
    text_col(st, 7, r->label, sizeof r->label);
    r->replaced = cds_sql_col_int64(st, 8) != 0;
    text_col(st, 9, r->org_units, sizeof r->org_units);
}

int
knock_list(store_t *store, int64_t since_ms, knock_row_t **out, size_t *n)
{
    int code = CDS_OK, rc;
    *out = NULL;
    *n = 0;
    cds_sql_stmt_t *st = store_read(store, KNOCK_SQL_LIST, KNOCK_SQL_LIST_PG);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_int64(st, ":since", since_ms);
    cds_sql_bind_int64(st, ":limit", KNOCK_LIST_MAX);
    knock_row_t *list = calloc(KNOCK_LIST_MAX, sizeof *list);
    if (!list) {
        code = CDS_ENOMEM;
        goto out;
    }
    while ((rc = cds_sql_step(st)) == CDS_SQL_ROW && *n < KNOCK_LIST_MAX)
        read_row(st, &list[(*n)++]);
    if (rc != CDS_SQL_ROW && rc != CDS_SQL_DONE)
        code = rc;
out:
    cds_sql_finalize(&st);
    if (code != CDS_OK || *n == 0) {
        free(list);
        *n = 0;
        return code;
    }
    *out = list;
    return CDS_OK;
}

/* The JSON object of one row, NULL on memory failure. */
static json_t *
row_json(const knock_row_t *r, uint64_t now_ms)
{
    json_t *commune = r->has_agent
                          ? json_pack("{s:s, s:s, s:s, s:b}", "agent",
                                      r->fpr, "label", r->label,
                                      "org_units", r->org_units,
                                      "replaced", r->replaced)
                          : json_null();
    return json_pack("{s:b, s:s, s:s?, s:o, s:s, s:I, s:I, s:I, s:I}",
                     "knock", 1, "reason", knock_reason(r->code),
                     "curve_key", r->has_key ? r->curve_hex : NULL,
                     "enrolled_as", commune, "address", r->address,
                     "count", (json_int_t) r->count,
                     "first_seen_ms", (json_int_t) r->first_ms,
                     "last_seen_ms", (json_int_t) r->last_ms,
                     "last_seen_ago_s",
                     (json_int_t) (now_ms > r->last_ms
                                       ? (now_ms - r->last_ms) / 1000 : 0));
}

int
knock_to_json(json_t *arr, const knock_row_t *list, size_t n,
              uint64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        json_t *o = row_json(&list[i], now_ms);
        if (!o || json_array_append_new(arr, o) != 0)
            return CDS_ENOMEM;
    }
    return CDS_OK;
}

enum { C_KEY, C_REASON, C_COMMUNE, C_ADDRESS, C_COUNT, C_LAST, NCOL };

/* The cells of one row (table.c escapes control bytes). */
static void
row_cells(const knock_row_t *r, uint64_t now_ms, char cell[NCOL][400])
{
    snprintf(cell[C_KEY], 400, "%s", r->has_agent ? r->fpr
                                     : r->has_key ? r->curve_hex
                                                  : "-");
    if (!r->has_agent && r->has_key)
        cell[C_KEY][16] = '\0';        /* a prefix names it well enough */
    snprintf(cell[C_REASON], 400, "%s%s", knock_reason(r->code),
             r->replaced ? " (rotated)" : "");
    if (r->has_agent)
        snprintf(cell[C_COMMUNE], 400, "%s [%s]", r->label, r->org_units);
    else
        snprintf(cell[C_COMMUNE], 400, "-");
    snprintf(cell[C_ADDRESS], 400, "%s", r->address);
    snprintf(cell[C_COUNT], 400, "%llu", (unsigned long long) r->count);
    cds_format_age(cell[C_LAST], 400,
                   now_ms > r->last_ms ? now_ms - r->last_ms : 0);
}

void
knock_print(FILE *out, const knock_row_t *list, size_t n, uint64_t now_ms)
{
    static const char *const head[NCOL] = {"KEY", "REASON", "ENROLLED FOR",
                                           "ADDRESS", "COUNT", "LAST SEEN"};
    char cell[NCOL][400];
    const char *row[NCOL];
    if (n == 0)
        return;
    table_t *t = table_new(head, NCOL);
    for (int c = 0; c < NCOL; c++)
        row[c] = cell[c];
    for (size_t i = 0; t && i < n; i++) {
        row_cells(&list[i], now_ms, cell);
        if (table_add(t, row) != 0)
            table_destroy(&t);
    }
    fprintf(out, "\nRefused handshakes still knocking (last 24 h):\n");
    if (t)
        table_print(t, out);
    else
        fprintf(out, "(out of memory)\n");
    table_destroy(&t);
}
