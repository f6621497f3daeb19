/*  Unit tests for cds_idmap, the DHIS2 id map, in the import direction:
 *  DHIS2 UIDs and names back to cdsync codes for a dataValueSet row and
 *  an ADX value, an unknown id refused naming the id and the map file, a
 *  name two codes share refused naming both, the name scheme completed
 *  from the catalog and org units with the file overriding; and the
 *  map file's own refusals (bad UID, a code twice). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cds_idmap.h"
#include "cds_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* path of a temporary file holding text (the caller unlinks it). */
static void
write_tmp(char *path, size_t len, const char *text)
{
    snprintf(path, len, "/tmp/cds_idmap_test.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static cds_idmap_t *
load(const char *text, cds_idmap_scheme_t scheme, char *path, char *err)
{
    write_tmp(path, 64, text);
    return cds_idmap_load(path, scheme, err, 400);
}

static const char UIDS[] =
    "kind,code,uid\n"
    "orgunit,27901,OuCommune01\n"
    "orgunit,27907-2025,OuReform007\n"
    "dataelement,TO_CNSCD,DeToCnscd01\n"
    "catoptcombo,default,HllvX50cXC0\n"
    "dataset,CDS_XA_QUY,DsXaQuy0001\n";

static void
test_reverse_uids(void **state)
{
    (void) state;
    char path[64], err[400] = "", msg[400];
    cds_idmap_t *m = load(UIDS, CDS_IDMAP_UID, path, err);
    assert_non_null(m);
    assert_string_equal(cds_idmap_code(m, "orgunit", "OuCommune01"), "27901");
    assert_string_equal(cds_idmap_code(m, "orgunit", "OuReform007"),
                        "27907-2025");
    assert_string_equal(cds_idmap_code(m, "catoptcombo", "HllvX50cXC0"),
                        "default");
    assert_null(cds_idmap_code(m, "dataelement", "OuCommune01")); /* kind */
    /* the forward direction still answers as export needs */
    assert_string_equal(cds_idmap_get(m, "dataelement", "TO_CNSCD"),
                        "DeToCnscd01");
    const char *code = NULL;
    assert_int_equal(cds_idmap_to_code(m, "dataelement", "fbfJHSPpUQD",
                                       &code, msg, sizeof msg), -1);
    char want[200];
    snprintf(want, sizeof want, "\"fbfJHSPpUQD\": no row in id map %s",
             path);
    assert_string_equal(msg, want);
    cds_idmap_destroy(&m);
    assert_null(m);
    unlink(path);
}

static void
test_dvs_row(void **state)
{
    (void) state;
    char path[64], err[400] = "", msg[400] = "";
    cds_idmap_t *m = load(UIDS, CDS_IDMAP_UID, path, err);
    assert_non_null(m);
    cds_dvs_row_t row, out;
    memset(&row, 0, sizeof row);
    for (int i = 0; i < CDS_DVS__COUNT; i++)
        row.f[i] = "";
    row.f[CDS_DVS_DE] = "DeToCnscd01";
    row.f[CDS_DVS_PE] = "2024Q1";
    row.f[CDS_DVS_OU] = "OuCommune01";
    row.f[CDS_DVS_COC] = "HllvX50cXC0";
    row.f[CDS_DVS_VALUE] = "7";
    row.f[CDS_DVS_STOREDBY] = "nguyen.van.a";
    row.line = 3;
    const char *field = NULL;
    assert_int_equal(cds_idmap_dvs_row(m, &row, &out, &field, msg,
                                       sizeof msg), 0);
    assert_string_equal(out.f[CDS_DVS_DE], "TO_CNSCD");
    assert_string_equal(out.f[CDS_DVS_OU], "27901");
    assert_string_equal(out.f[CDS_DVS_COC], "default");
    assert_string_equal(out.f[CDS_DVS_AOC], "");      /* empty stays */
    assert_string_equal(out.f[CDS_DVS_PE], "2024Q1");  /* not an id */
    assert_string_equal(out.f[CDS_DVS_STOREDBY], "nguyen.van.a");
    assert_int_equal(out.line, 3);
    row.f[CDS_DVS_AOC] = "Xyz12345678";
    assert_int_equal(cds_idmap_dvs_row(m, &row, &out, &field, msg,
                                       sizeof msg), -1);
    assert_string_equal(field, "attributeoptioncombo");
    assert_non_null(strstr(msg, "\"Xyz12345678\": no row in id map"));
    /* a code given where a UID is expected is not guessed either */
    row.f[CDS_DVS_AOC] = "";
    row.f[CDS_DVS_OU] = "27901";
    assert_int_equal(cds_idmap_dvs_row(m, &row, &out, &field, msg,
                                       sizeof msg), -1);
    assert_string_equal(field, "orgunit");
    cds_idmap_destroy(&m);
    unlink(path);
}

static void
test_adx_value(void **state)
{
    (void) state;
    char path[64], err[400] = "", msg[400] = "";
    cds_idmap_t *m = load(UIDS, CDS_IDMAP_UID, path, err);
    assert_non_null(m);
    cds_adx_value_t v = { .line = 4, .data_set = "DsXaQuy0001",
                          .org_unit = "OuReform007", .period = "2025Q1",
                          .attr_combo = "HllvX50cXC0",
                          .data_element = "DeToCnscd01", .value = "5",
                          .disagg = "SEX=F" }, out;
    const char *field = NULL;
    assert_int_equal(cds_idmap_adx_value(m, &v, &out, &field, msg,
                                         sizeof msg), 0);
    assert_string_equal(out.data_set, "CDS_XA_QUY");
    assert_string_equal(out.org_unit, "27907-2025");
    assert_string_equal(out.data_element, "TO_CNSCD");
    assert_string_equal(out.attr_combo, "default");
    assert_string_equal(out.disagg, "SEX=F");        /* the catalog's */
    v.disagg = "Unknown0001";
    assert_int_equal(cds_idmap_adx_value(m, &v, &out, &field, msg,
                                         sizeof msg), -1);
    assert_string_equal(field, "categoryOptionCombo");
    v.disagg = "HllvX50cXC0";
    v.data_set = "DsUnknown01";
    assert_int_equal(cds_idmap_adx_value(m, &v, &out, &field, msg,
                                         sizeof msg), -1);
    assert_string_equal(field, "dataSet");
    cds_idmap_destroy(&m);
    unlink(path);
}

static void
test_names_shared_and_override(void **state)
{
    (void) state;
    char path[64], err[400] = "", msg[400] = "";
    cds_idmap_t *m = cds_idmap_new();
    assert_non_null(m);
    assert_int_equal(cds_idmap_add(m, "orgunit", "27916", "Xã Bình Thành"),
                     CDS_OK);
    assert_int_equal(cds_idmap_add(m, "orgunit", "27868-2025",
                                   "Xã Bình Thành"), CDS_OK);
    assert_int_equal(cds_idmap_add(m, "orgunit", "27901", "Xã Mỹ Quý Đông"),
                     CDS_OK);
    const char *code = NULL;
    assert_int_equal(cds_idmap_to_code(m, "orgunit", "Xã Mỹ Quý Đông", &code,
                                       msg, sizeof msg), 0);
    assert_string_equal(code, "27901");
    assert_int_equal(cds_idmap_to_code(m, "orgunit", "Xã Bình Thành", &code,
                                       msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "names both 27916 and 27868-2025"));
    assert_int_equal(cds_idmap_to_code(m, "orgunit", "xã mỹ quý đông", &code,
                                       msg, sizeof msg), -1); /* exact */
    assert_non_null(strstr(msg, "no orgunit of that name"));
    cds_idmap_destroy(&m);
    /* the file's name wins over the one added after it */
    m = load("kind,code,name\norgunit,27916,Bình Thành (cũ)\n",
             CDS_IDMAP_NAME, path, err);
    assert_non_null(m);
    assert_int_equal(cds_idmap_add(m, "orgunit", "27916", "Xã Bình Thành"),
                     CDS_OK);
    assert_string_equal(cds_idmap_code(m, "orgunit", "Bình Thành (cũ)"),
                        "27916");
    assert_null(cds_idmap_code(m, "orgunit", "Xã Bình Thành"));
    assert_int_equal(cds_idmap_add_names(m, NULL, NULL), CDS_OK);
    assert_string_equal(cds_idmap_code(m, "catoptcombo", "default"),
                        "default");
    cds_idmap_t *c = cds_idmap_copy(m);
    assert_non_null(c);
    assert_string_equal(cds_idmap_source(c), path);
    cds_idmap_destroy(&c);
    cds_idmap_destroy(&m);
    unlink(path);
}

static void
test_file_refusals(void **state)
{
    (void) state;
    char path[64], err[400] = "";
    assert_null(load("kind,code,uid\norgunit,27901,short\n", CDS_IDMAP_UID,
                     path, err));
    assert_non_null(strstr(err, ":2: uid: "));
    unlink(path);
    assert_null(load("kind,code,uid\norgunit,27901,OuCommune01\n"
                     "orgunit,27901,OuCommune02\n", CDS_IDMAP_UID, path,
                     err));
    assert_non_null(strstr(err, ":3: code: "));
    unlink(path);
    assert_null(load("kind,code,uid\ncommune,27901,OuCommune01\n",
                     CDS_IDMAP_UID, path, err));
    assert_non_null(strstr(err, ":2: kind: "));
    unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reverse_uids),
        cmocka_unit_test(test_dvs_row),
        cmocka_unit_test(test_adx_value),
        cmocka_unit_test(test_names_shared_and_override),
        cmocka_unit_test(test_file_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
