/*  enroll: enroll, revoke and list agents. See enroll.h. */
#include "enroll.h"

#include "cds_err.h"
#include "cds_log.h"
#include "cds_util.h"
#include "table.h"

#include <ctype.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define UNITS_TEXT 4096                /* comma-joined unit list for output */
#define FPR_HEX 16                     /* hex digits in a fingerprint */

static int
check_units(store_t *store, const char *const *units, size_t n, char *err,
            size_t errlen)
{
    if (n == 0) {
        snprintf(err, errlen, "enroll: at least one --org-unit is required");
        return CDS_EUSAGE;
    }
    for (size_t i = 0; i < n; i++) {
        int known = store_orgunit_exists(store, units[i]);
        if (known < 0)
            return -known;
        if (!known) {
            snprintf(err, errlen, "org-unit: \"%s\" is not in the org-unit "
                     "list", units[i]);
            return CDS_EUNKNOWNORGUNIT;
        }
    }
    return CDS_OK;
}

/* Checks and writes inside the caller's transaction. */
static int
enroll_tx(store_t *store, const uint8_t *sign_pk, const uint8_t *curve_pk,
          const char *const *units, size_t n, const char *label,
          uint64_t now_ms, int64_t *id, char *err, size_t errlen)
{
    store_agent_t old;
    int rc = store_agent_find(store, sign_pk, &old);
    if (rc == CDS_OK && old.revoked_at_ms != 0) {
        snprintf(err, errlen, "agent %s was revoked; a revoked key cannot "
                 "be enrolled again (generate a new identity)", old.fpr);
        return CDS_EREVOKED;
    }
    if (rc != CDS_OK && rc != CDS_ENOTFOUND)
        return rc;
    if (!label && rc == CDS_OK)
        label = old.label;     /* re-enroll without --label keeps it */
    rc = check_units(store, units, n, err, errlen);
    if (rc != CDS_OK)
        return rc;
    return store_agent_enroll(store, sign_pk, curve_pk, label, units, n,
                              (int64_t) now_ms, id);
}

int
enroll_add(store_t *store, const char *pubid, const char *const *units,
           size_t n, const char *label, uint64_t now_ms, FILE *out,
           char *err, size_t errlen)
{
    uint8_t sign_pk[CDS_PK_BYTES], curve_pk[CDS_PK_BYTES];
    if (cds_pubid_parse(pubid, sign_pk, curve_pk) != CDS_OK) {
        snprintf(err, errlen, "PUBID: \"%.100s\" is not a public identity "
                 "(cds1:...)", pubid);
        return CDS_EMALFORMED;
    }
    if (label && strcmp(label, STORE_CENTRAL_LABEL) == 0) {
        snprintf(err, errlen, "--label: \"%s\" is reserved for the "
                 "aggregator's own corrections", label);
        return CDS_EBADFIELD;
    }
    cds_sql_t *db = store_sql(store);
    int rc = cds_sql_begin(db);
    if (rc != CDS_OK)
        return rc;
    int64_t id = 0;
    rc = enroll_tx(store, sign_pk, curve_pk, units, n, label, now_ms, &id,
                   err, errlen);
    if (rc == CDS_OK)
        rc = cds_sql_commit(db);
    if (rc != CDS_OK) {
        cds_sql_rollback(db);
        return rc;
    }
    char fpr[CDS_FPR_LEN], list[UNITS_TEXT];
    cds_fingerprint(sign_pk, fpr);
    if (store_agent_units(store, id, list, sizeof list) != CDS_OK)
        snprintf(list, sizeof list, "?");
    store_agent_t a;
    const char *shown = store_agent_find(store, sign_pk, &a) == CDS_OK
                            ? a.label : (label ? label : "");
    fprintf(out, "enrolled %s label=%s org_units=%s\n", fpr,
            cds_logq(shown), list);
    cds_log(CDS_LOG_INFO, "agent_enrolled", "agent=%s org_units=%s", fpr,
            cds_logq(list));
    return CDS_OK;
}

/* Find by "cds1:..." or by a fingerprint (16 hex, any case). */
static int
find_agent(store_t *store, const char *who, store_agent_t *a, char *err,
           size_t errlen)
{
    uint8_t sign_pk[CDS_PK_BYTES], curve_pk[CDS_PK_BYTES];
    if (strncmp(who, "cds1:", 5) == 0) {
        if (cds_pubid_parse(who, sign_pk, curve_pk) != CDS_OK) {
            snprintf(err, errlen, "\"%.100s\" is not a public identity", who);
            return CDS_EMALFORMED;
        }
        return store_agent_find(store, sign_pk, a);
    }
    char fpr[CDS_FPR_LEN];
    size_t len = strlen(who);
    if (len != FPR_HEX) {
        snprintf(err, errlen, "\"%.100s\" is neither a public identity nor "
                 "a 16-hex-digit fingerprint", who);
        return CDS_EMALFORMED;
    }
    for (size_t i = 0; i <= len; i++) {
        if (i < len && !isxdigit((unsigned char) who[i])) {
            snprintf(err, errlen, "\"%.100s\" is not a fingerprint", who);
            return CDS_EMALFORMED;
        }
        fpr[i] = (char) tolower((unsigned char) who[i]);
    }
    return store_agent_find_fpr(store, fpr, a);
}

int
enroll_revoke(store_t *store, const char *who, uint64_t now_ms, FILE *out,
              char *err, size_t errlen)
{
    store_agent_t a;
    int rc = find_agent(store, who, &a, err, errlen);
    if (rc == CDS_ENOTFOUND)
        snprintf(err, errlen, "no enrolled agent %.100s", who);
    if (rc != CDS_OK)
        return rc;
    rc = store_agent_revoke(store, a.id, (int64_t) now_ms);
    if (rc != CDS_OK)
        return rc;
    fprintf(out, "revoked %s label=%s\n", a.fpr, cds_logq(a.label));
    cds_log(CDS_LOG_INFO, "agent_revoked", "agent=%s", a.fpr);
    return CDS_OK;
}

/* ---- rotation ------------------------------------------------------------ */

#define ROTATE_UNITS_MAX 256

/* Split the old agent's comma-joined unit list into units[]. */
static size_t
split_units(char *list, const char **units)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t && n < ROTATE_UNITS_MAX;
         t = strtok_r(NULL, ",", &save))
        units[n++] = t;
    return n;
}

static int
replace_tx(store_t *store, const uint8_t *sign_pk, const uint8_t *curve_pk,
           const store_agent_t *old, const char *const *units, size_t n,
           const char *label, uint64_t now_ms, int64_t *id, char *err,
           size_t errlen)
{
    int rc = enroll_tx(store, sign_pk, curve_pk, units, n,
                       label ? label : old->label, now_ms, id, err, errlen);
    if (rc == CDS_OK)
        rc = store_agent_revoke(store, old->id, (int64_t) now_ms);
    if (rc == CDS_OK)
        rc = store_agent_replaced(store, old->id, *id);
    return rc;
}

int
enroll_replace(store_t *store, const char *new_pubid, const char *old_who,
               const char *const *units, size_t n, const char *label,
               uint64_t now_ms, FILE *out, char *err, size_t errlen)
{
    uint8_t sign_pk[CDS_PK_BYTES], curve_pk[CDS_PK_BYTES];
    store_agent_t old;
    char list[UNITS_TEXT], fpr[CDS_FPR_LEN];
    const char *old_units[ROTATE_UNITS_MAX];
    if (cds_pubid_parse(new_pubid, sign_pk, curve_pk) != CDS_OK) {
        snprintf(err, errlen, "PUBID: \"%.100s\" is not a public identity "
                 "(cds1:...)", new_pubid);
        return CDS_EMALFORMED;
    }
    int rc = find_agent(store, old_who, &old, err, errlen);
    if (rc == CDS_ENOTFOUND)
        snprintf(err, errlen, "replaces: no enrolled agent %.100s", old_who);
    if (rc != CDS_OK)
        return rc;
    if (sodium_memcmp(old.sign_pk, sign_pk, CDS_PK_BYTES) == 0) {
        snprintf(err, errlen, "replaces: the new key is the old key");
        return CDS_EUSAGE;
    }
    if (n == 0) {
        rc = store_agent_units(store, old.id, list, sizeof list);
        if (rc != CDS_OK)
            return rc;
        n = split_units(list, old_units);
        units = old_units;
    }
    cds_sql_t *db = store_sql(store);
    int64_t id = 0;
    rc = cds_sql_begin(db);
    if (rc == CDS_OK)
        rc = replace_tx(store, sign_pk, curve_pk, &old, units, n, label,
                        now_ms, &id, err, errlen);
    if (rc == CDS_OK)
        rc = cds_sql_commit(db);
    if (rc != CDS_OK) {
        cds_sql_rollback(db);
        return rc;
    }
    cds_fingerprint(sign_pk, fpr);
    if (store_agent_units(store, id, list, sizeof list) != CDS_OK)
        snprintf(list, sizeof list, "?");
    fprintf(out, "enrolled %s label=%s org_units=%s replaces=%s (revoked)\n",
            fpr, cds_logq(label ? label : old.label), list, old.fpr);
    cds_log(CDS_LOG_INFO, "agent_rotated", "agent=%s replaces=%s "
            "org_units=%s", fpr, old.fpr, cds_logq(list));
    return CDS_OK;
}

/* ---- listing ------------------------------------------------------------ */

typedef struct {
    store_t *store;
    bool json;
    uint64_t now_ms;
    table_t *table;                    /* table output */
    json_t *array;                     /* json output */
    int err;                           /* first failure */
} list_ctx_t;

static int
list_json(list_ctx_t *c, const store_agent_t *a, const char *units)
{
    json_t *o = json_object();
    json_t *ous = json_array();
    char *copy = strdup(units);
    for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL;
         t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(ous, json_string(t));
    free(copy);
    json_object_set_new(o, "fingerprint", json_string(a->fpr));
    json_object_set_new(o, "public", json_string(a->pubid));
    json_object_set_new(o, "label", json_string(a->label));
    json_object_set_new(o, "org_units", ous);
    json_object_set_new(o, "applied_seq", json_integer((json_int_t)
                                                       a->applied_seq));
    json_object_set_new(o, "enrolled_at_ms",
                        json_integer(a->enrolled_at_ms));
    json_object_set_new(o, "last_seen_ms", a->last_seen_ms
                            ? json_integer(a->last_seen_ms) : json_null());
    json_object_set_new(o, "revoked_at_ms", a->revoked_at_ms
                            ? json_integer(a->revoked_at_ms) : json_null());
    return json_array_append_new(c->array, o);
}

static int
list_one(const store_agent_t *a, void *arg)
{
    list_ctx_t *c = arg;
    char units[UNITS_TEXT];
    c->err = store_agent_units(c->store, a->id, units, sizeof units);
    if (c->err != CDS_OK)
        return 1;
    if (c->json)
        return list_json(c, a, units) == 0 ? 0 : (c->err = CDS_ENOMEM);
    char seq[24], seen[32] = "never", revoked[32] = "no";
    snprintf(seq, sizeof seq, "%llu", (unsigned long long) a->applied_seq);
    if (a->last_seen_ms)
        cds_format_age(seen, sizeof seen,
                       c->now_ms - (uint64_t) a->last_seen_ms);
    if (a->revoked_at_ms)
        cds_format_time(revoked, sizeof revoked, (uint64_t) a->revoked_at_ms);
    const char *row[] = { a->fpr, a->label, units, seq, seen, revoked };
    return table_add(c->table, row) == 0 ? 0 : (c->err = CDS_ENOMEM);
}

int
enroll_list(store_t *store, bool json, uint64_t now_ms, FILE *out)
{
    static const char *const header[] = {
        "FINGERPRINT", "LABEL", "ORG UNITS", "APPLIED", "LAST SEEN", "REVOKED",
    };
    list_ctx_t c = { .store = store, .json = json, .now_ms = now_ms };
    if (json)
        c.array = json_array();
    else
        c.table = table_new(header, 6);
    if (!c.array && !c.table)
        return CDS_ENOMEM;
    int rc = store_agents_each(store, list_one, &c);
    if (rc == CDS_OK)
        rc = c.err;
    if (rc == CDS_OK && json) {
        json_dumpf(c.array, out, JSON_INDENT(2));
        fputc('\n', out);
    } else if (rc == CDS_OK)
        table_print(c.table, out);
    json_decref(c.array);
    table_destroy(&c.table);
    return rc;
}
