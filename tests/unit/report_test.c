/*  report_test: one table printed as aligned text, RFC 4180 CSV and typed
 *  JSON (numbers, booleans, null for empty cells). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static const char *const HEADER[] = { "name", "count", "share", "ok" };

static char *
print(report_format_t f, json_t *meta, const char *footer)
{
    report_t *r = report_new(f, HEADER, "snnb", 4);
    assert_non_null(r);
    const char *a[] = { "Xã Mỹ Quý, \"Đông\"", "12", "72.5", "true" };
    const char *b[] = { "B", "", NULL, "false" };
    assert_int_equal(report_add(r, a), 0);
    assert_int_equal(report_add(r, b), 0);
    assert_int_equal(report_rows(r), 2);
    json_t *rows = report_json_rows(r);
    assert_int_equal(json_array_size(rows), 2);
    json_decref(rows);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    report_print(r, out, meta, footer);
    fclose(out);
    report_destroy(&r);
    assert_null(r);
    report_destroy(&r);
    return buf;
}

static void
test_formats(void **state)
{
    (void) state;
    report_format_t f;
    assert_int_equal(report_format_parse("csv", &f), 0);
    assert_int_equal(f, REPORT_CSV);
    assert_int_equal(report_format_parse("xml", &f), -1);
    char *s = print(REPORT_CSV, NULL, NULL);
    assert_string_equal(s, "name,count,share,ok\r\n"
                           "\"Xã Mỹ Quý, \"\"Đông\"\"\",12,72.5,true\r\n"
                           "B,,,false\r\n");
    free(s);
    s = print(REPORT_JSON, json_pack("{ss}", "period", "2025Q1"), "x");
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "period")),
                        "2025Q1");
    json_t *r0 = json_array_get(json_object_get(j, "rows"), 0);
    json_t *r1 = json_array_get(json_object_get(j, "rows"), 1);
    assert_int_equal(json_integer_value(json_object_get(r0, "count")), 12);
    assert_true(json_real_value(json_object_get(r0, "share")) == 72.5);
    assert_true(json_is_true(json_object_get(r0, "ok")));
    assert_true(json_is_null(json_object_get(r1, "count")));
    assert_true(json_is_false(json_object_get(r1, "ok")));
    json_decref(j);
    free(s);
    s = print(REPORT_TABLE, NULL, "2 rows");
    assert_non_null(strstr(s, "name"));
    assert_non_null(strstr(s, "\n2 rows\n"));
    free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_formats) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
