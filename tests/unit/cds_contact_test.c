/*  Unit tests for cds_contact: the shipped deploy/contacts.csv against the
 *  shipped org units (every commune of Đức Huệ, old and merged, has one);
 *  lookups by unit; loader refusals with exact "path:line: column:
 *  problem"; check mode naming every bad row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cds_contact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];
static char tmppath[128];

static const char *
deploy(const char *name)
{
    static char path[2][1024];
    static int k;
    char *p = path[k++ % 2];
    snprintf(p, 1024, "deploy/%s", name);
    if (access(p, R_OK) == 0)
        return p;
    snprintf(p, 1024, "%s", __FILE__);
    char *cut = strstr(p, "tests/unit/");
    if (cut)
        snprintf(cut, 1024 - (size_t) (cut - p), "deploy/%s", name);
    return p;
}

static int
setup(void **state)
{
    (void) state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cds_contact_test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(tmppath, sizeof tmppath, "%s/contacts.csv", tmpdir);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    unlink(tmppath);
    return rmdir(tmpdir);
}

static void
write_file(const char *text)
{
    FILE *fp = fopen(tmppath, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static cds_orgunits_t *
ous(void)
{
    char err[512] = "";
    cds_orgunits_t *o = cds_orgunits_load(deploy("orgunits.csv"), err,
                                          sizeof err);
    if (!o)
        fail_msg("%s", err);
    return o;
}

static void
test_load_deploy(void **state)
{
    (void) state;
    char err[512] = "";
    cds_orgunits_t *o = ous();
    cds_contacts_t *c = cds_contacts_load(deploy("contacts.csv"), o, err,
                                          sizeof err);
    if (!c)
        fail_msg("%s", err);
    static const char *const communes[] = {
        "27898", "27901", "27904", "27907", "27910", "27913", "27916",
        "27919", "27922", "27925", "27928", "27898-2025", "27907-2025",
        "27925-2025", "27868-2025",
    };
    for (size_t i = 0; i < sizeof communes / sizeof communes[0]; i++) {
        const cds_contact_t *k = cds_contacts_find(c, communes[i]);
        assert_non_null(k);
        assert_string_equal(k->org_unit, communes[i]);
        assert_true(k->name[0] && (k->phone[0] || k->email[0]));
    }
    const cds_contact_t *k = cds_contacts_find(c, "27910");
    assert_string_equal(k->name, "Huỳnh Thị Kim Ngân");
    assert_string_equal(k->phone, "0272 000 0105");
    assert_null(cds_contacts_find(c, "VN"));
    assert_null(cds_contacts_find(c, "2791"));
    assert_null(cds_contacts_find(NULL, "27910"));
    cds_contacts_destroy(&c);
    assert_null(c);
    cds_orgunits_destroy(&o);
}

/* Optional columns may be absent; a row without phone gives "". */
static void
test_optional_columns(void **state)
{
    (void) state;
    char err[512] = "";
    write_file("\xEF\xBB\xBF" "email,name,org_unit\n"
               "a@b.example,Lê Thị A,27901\n");
    cds_contacts_t *c = cds_contacts_load(tmppath, NULL, err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(cds_contacts_size(c), 1);
    const cds_contact_t *k = cds_contacts_at(c, 0);
    assert_string_equal(k->phone, "");
    assert_string_equal(k->title, "");
    assert_string_equal(k->email, "a@b.example");
    cds_contacts_destroy(&c);
}

#define HDR "org_unit,name,title,phone,email\n"

static void
expect_load_error(const char *text, const char *want)
{
    char err[512] = "", full[600];
    cds_orgunits_t *o = ous();
    write_file(text);
    cds_contacts_t *c = cds_contacts_load(tmppath, o, err, sizeof err);
    assert_null(c);
    snprintf(full, sizeof full, "%s:%s", tmppath, want);
    assert_string_equal(err, full);
    cds_orgunits_destroy(&o);
}

static void
test_refusals(void **state)
{
    (void) state;
    expect_load_error(HDR "999,A,,0272 000 0101,\n",
                      "2: org_unit: not in the org-unit list "
                      "(value \"999\")");
    expect_load_error(HDR "801,,,0272 000 0101,\n",
                      "2: name: empty (the person to call)");
    expect_load_error(HDR "801,A,,,\n",
                      "2: phone: neither a phone nor an e-mail address "
                      "(give at least one)");
    expect_load_error(HDR "801,A,,0272-abc,\n",
                      "2: phone: expected 8 to 15 digits, optional leading "
                      "+, spaces, dots, dashes (value \"0272-abc\")");
    expect_load_error(HDR "801,A,,1234567,\n",
                      "2: phone: expected 8 to 15 digits, optional leading "
                      "+, spaces, dots, dashes (value \"1234567\")");
    expect_load_error(HDR "801,A,,,a@b\n",
                      "2: email: expected an address local@domain.tld "
                      "(value \"a@b\")");
    expect_load_error(HDR "801,A,,,a b@c.example\n",
                      "2: email: expected an address local@domain.tld "
                      "(value \"a b@c.example\")");
    expect_load_error(HDR "801,A,\"x\ty\",+84 272 000 0801,\n",
                      "2: title: over 200 bytes, not valid UTF-8 or with a "
                      "control character");
    expect_load_error(HDR "801,A,,+84 272 000 0801,\n"
                          "27901,B,,,b@c.example\n801,C,,,c@d.example\n",
                      "4: org_unit: the same unit as line 2 (value \"801\")");
    expect_load_error("org_unit,phone\n801,0272 000 0801\n",
                      "1: name: required column missing from the header");
}

static void
test_check_all(void **state)
{
    (void) state;
    cds_orgunits_t *o = ous();
    write_file(HDR "999,A,,0272 000 0101,\n"
                   "801,A,,0272 000 0101,\n"
                   "27901,B,,,x\n"
                   "801,C,,,c@d.example\n");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(cds_contacts_check(tmppath, o, out), 3);
    fclose(out);
    char want[800];
    snprintf(want, sizeof want,
             "%s:2: org_unit: not in the org-unit list (value \"999\")\n"
             "%s:4: email: expected an address local@domain.tld "
             "(value \"x\")\n"
             "%s:5: org_unit: the same unit as line 3 (value \"801\")\n",
             tmppath, tmppath, tmppath);
    assert_string_equal(buf, want);
    free(buf);
    cds_orgunits_destroy(&o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_deploy),
        cmocka_unit_test(test_optional_columns),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_check_all),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
