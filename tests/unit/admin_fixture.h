/*  admin_fixture: shared set-up of the district-admin tests (rollup,
 *  completeness, history, export): a temporary aggregator database with the
 *  shipped org units, org-unit mapping and catalog (or given texts), its
 *  identity, and values put in through the real path (central.h: signed
 *  batches through ingest). On SQLite, and again on PostgreSQL with
 *  CDS_TEST_PG_URL (teststore.h): the aggregator's key is made once per
 *  program, so both passes sign the same bytes and print the same
 *  fingerprints. Header-only: static helpers for each test. */
#ifndef ADMIN_FIXTURE_H
#define ADMIN_FIXTURE_H

#include <ftw.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cds_catalog.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_log.h"
#include "cds_orgunit.h"
#include "cds_period.h"
#include "cds_util.h"
#include "central.h"
#include "ingest.h"
#include "orgmap.h"
#include "store.h"
#include "teststore.h"

typedef struct {
    char dir[64];
    char catalog_path[128];
    store_t *store;
    cds_catalog_t *catalog;
    cds_identity_t *id;                /* the aggregator */
    ingest_t *ingest;
} afx_t;

/* Day number -> ms at 00:00 UTC + hours. */
static __attribute__((unused)) uint64_t
afx_ms(int y, int m, int d, int hours)
{
    return ((uint64_t) cds_day_from_ymd(y, m, d) * 86400u + hours * 3600u)
           * 1000u;
}

static __attribute__((unused)) int
afx_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb, (void) flag, (void) ftw;
    return remove(p);
}

static __attribute__((unused)) void
afx_write(const afx_t *fx, const char *name, const char *text, char *path)
{
    sprintf(path, "%s/%s", fx->dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Key file number slot (0 the aggregator's, 1.. a test's agents) at path
 * with label: generated at the first call, the same bytes at every later
 * one, so the PostgreSQL pass signs and prints what the SQLite pass did. */
static __attribute__((unused)) void
afx_key_slot(const char *path, int slot, const char *label)
{
    static char *keys[4];
    static size_t lens[4];
    assert_true(slot >= 0 && slot < 4);
    char *key = keys[slot];
    size_t len = lens[slot];
    if (!key) {
        assert_int_equal(cds_identity_generate(path, label), CDS_OK);
        assert_int_equal(cds_read_file(path, 1 << 16, &keys[slot],
                                       &lens[slot]), CDS_OK);
        return;
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(key, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, 0600), 0);
}

/* New fixture. ou_text/cat_text/map_text NULL: the shipped deploy/ files
 * (tests run from the source root); map_text "" : no mapping. */
static __attribute__((unused)) afx_t *
afx_new(const char *ou_text, const char *cat_text, const char *map_text)
{
    afx_t *fx = calloc(1, sizeof *fx);
    char path[160], err[512] = "";
    int e = 0;
    cds_log_init("test", CDS_LOG_ERROR);
    strcpy(fx->dir, "/tmp/admin_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    if (ou_text)
        afx_write(fx, "ou.csv", ou_text, path);
    else
        strcpy(path, "deploy/orgunits.csv");
    cds_orgunits_t *ous = cds_orgunits_load(path, err, sizeof err);
    assert_non_null(ous);
    if (cat_text)
        afx_write(fx, "cat.csv", cat_text, fx->catalog_path);
    else
        strcpy(fx->catalog_path, "deploy/catalog.csv");
    fx->catalog = cds_catalog_load(fx->catalog_path, err, sizeof err);
    if (!fx->catalog)
        fail_msg("%s", err);
    fx->store = teststore_open(fx->dir);
    assert_int_equal(store_orgunits_load(fx->store, ous), CDS_OK);
    cds_orgunits_destroy(&ous);
    if (!map_text || map_text[0]) {
        if (map_text)
            afx_write(fx, "map.csv", map_text, path);
        else
            strcpy(path, "deploy/orgunit_map.csv");
        size_t rows = 0;
        if (orgmap_load(fx->store, path, &rows, err, sizeof err) != CDS_OK)
            fail_msg("%s", err);
        assert_true(rows > 0);
    }
    snprintf(path, sizeof path, "%s/agg.key", fx->dir);
    afx_key_slot(path, 0, "agg");
    fx->id = cds_identity_load(path, &e, NULL, 0);
    assert_non_null(fx->id);
    fx->ingest = ingest_new(fx->store, fx->id, fx->catalog);
    assert_non_null(fx->ingest);
    return fx;
}

static __attribute__((unused)) void
afx_destroy(afx_t **fx_p)
{
    afx_t *fx = *fx_p;
    ingest_destroy(&fx->ingest);
    store_destroy(&fx->store);
    cds_catalog_destroy(&fx->catalog);
    cds_identity_destroy(&fx->id);
    nftw(fx->dir, afx_rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    *fx_p = NULL;
}

/* Import a CSV/JSON text as a central correction received at now_ms;
 * returns the code (rows and counts in *res when res is given). */
static __attribute__((unused)) int
afx_import(afx_t *fx, const char *name, const char *text, uint64_t now_ms,
           central_result_t *res)
{
    char path[160], err[512] = "";
    central_result_t r;
    afx_write(fx, name, text, path);
    FILE *devnull = fopen("/dev/null", "w");
    int rc = central_import_file(fx->store, fx->ingest, fx->id, fx->catalog,
                                 path, CDS_DVS_HEADER_AUTO, NULL, now_ms,
                                 devnull, res ? res : &r, err, sizeof err);
    fclose(devnull);
    return rc;
}

/* Output of fn into a malloc'd string, the same on both backends
 * (teststore_same). */
#define AFX_CAPTURE(buf, call)                                               \
    do {                                                                     \
        size_t afx_len_ = 0;                                                 \
        FILE *out = open_memstream(&(buf), &afx_len_);                       \
        assert_int_equal((call), CDS_OK);                                    \
        fclose(out);                                                         \
        teststore_same(buf);                                                 \
    } while (0)

#endif
