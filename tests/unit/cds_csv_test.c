/*  Unit tests for cds_csv: quoting, line numbers across quoted newlines,
 *  BOM, CRLF, blank lines, bounds, and the exact error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cds_csv.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cds_csv_t *
open_str(const char *s)
{
    char err[256];
    cds_csv_t *csv = cds_csv_open_mem(s, strlen(s), "t.csv", err, sizeof err);
    assert_non_null(csv);
    return csv;
}

/* Next record must exist, start on line, and hold n fields. */
static void
expect_record(cds_csv_t *csv, size_t line, size_t n)
{
    char err[256] = "";
    int rc = cds_csv_next(csv, err, sizeof err);
    if (rc != 1)
        fail_msg("next: %d %s", rc, err);
    assert_int_equal(cds_csv_line(csv), line);
    assert_int_equal(cds_csv_count(csv), n);
}

static void
expect_end(cds_csv_t *csv)
{
    char err[256] = "";
    assert_int_equal(cds_csv_next(csv, err, sizeof err), 0);
}

/* Reading s fails at some point with exactly msg. */
static void
expect_error(const char *s, bool header, const char *msg)
{
    char err[256] = "";
    cds_csv_t *csv = open_str(s);
    int rc = header ? cds_csv_read_header(csv, err, sizeof err) : 0;
    while (rc >= 0 && (rc = cds_csv_next(csv, err, sizeof err)) == 1)
        ;
    assert_int_equal(rc, -1);
    assert_string_equal(err, msg);
    assert_int_equal(cds_csv_next(csv, err, sizeof err), -1); /* stays */
    cds_csv_destroy(&csv);
    assert_null(csv);
}

static void
test_quoted_fields(void **state)
{
    (void) state;
    cds_csv_t *csv = open_str(
        "code,name,note\n"
        "A,\"Bình Hòa, Bắc\",\"say \"\"hi\"\"\"\n"
        "B,\"two\nlines\",x\n"
        "C,\"three\r\n\r\nlines\",\n"
        "D, spaced ,\"\"\n");
    char err[256];
    assert_int_equal(cds_csv_read_header(csv, err, sizeof err), 0);
    assert_int_equal(cds_csv_columns(csv), 3);
    assert_int_equal(cds_csv_column(csv, "name"), 1);
    assert_int_equal(cds_csv_column(csv, "NOTE"), 2);
    assert_int_equal(cds_csv_column(csv, "missing"), -1);
    expect_record(csv, 2, 3);
    assert_string_equal(cds_csv_field(csv, 1), "Bình Hòa, Bắc");
    assert_string_equal(cds_csv_get(csv, 2), "say \"hi\"");
    assert_null(cds_csv_field(csv, 3));
    assert_string_equal(cds_csv_get(csv, -1), "");
    expect_record(csv, 3, 3);
    assert_string_equal(cds_csv_field(csv, 1), "two\nlines");
    expect_record(csv, 5, 3);
    assert_string_equal(cds_csv_field(csv, 1), "three\r\n\r\nlines");
    assert_string_equal(cds_csv_field(csv, 2), "");
    expect_record(csv, 8, 3);   /* after a field spanning lines 5-7 */
    assert_string_equal(cds_csv_field(csv, 1), " spaced ");
    assert_string_equal(cds_csv_field(csv, 2), "");
    expect_end(csv);
    expect_end(csv);
    assert_string_equal(cds_csv_name(csv), "t.csv");
    cds_csv_destroy(&csv);
    cds_csv_destroy(&csv);      /* safe on NULL */
}

static void
test_bom_crlf_blank_lines(void **state)
{
    (void) state;
    cds_csv_t *csv = open_str("\xEF\xBB\xBF" "code,value\r\n"
                              "\r\n"
                              "A,1\r\n"
                              "\n\n"
                              "B,2");     /* no final newline */
    char err[256];
    assert_int_equal(cds_csv_read_header(csv, err, sizeof err), 0);
    assert_int_equal(cds_csv_column(csv, "code"), 0);
    assert_int_equal(cds_csv_line(csv), 1);
    expect_record(csv, 3, 2);
    assert_string_equal(cds_csv_field(csv, 1), "1");
    expect_record(csv, 6, 2);
    assert_string_equal(cds_csv_field(csv, 0), "B");
    assert_string_equal(cds_csv_field(csv, 1), "2");
    expect_end(csv);
    cds_csv_destroy(&csv);
}

static void
test_errors(void **state)
{
    (void) state;
    expect_error("a,b\n1,2\nx,\"open\nstill open\n", true,
                 "t.csv:3: quoted field not closed before end of file");
    expect_error("a,b\n1,2\n3,\"q\"x\n", true,
                 "t.csv:3: malformed quoting (a quote inside an unquoted "
                 "field, or text after a closing quote)");
    expect_error("a,b\n1,\"two\nlines\"\n3,ab\"c\n", true,
                 "t.csv:4: malformed quoting (a quote inside an unquoted "
                 "field, or text after a closing quote)");
    expect_error("a,b\n1,2\n1,2,3\n", true,
                 "t.csv:3: 3 fields, but the header has 2");
    expect_error("a,b,A\n", true,
                 "t.csv:1: duplicate column name in the header "
                 "(column 3 \"A\")");
    expect_error("a,,b\n", true,
                 "t.csv:1: empty column name in the header (column 2 \"\")");
    expect_error("", true, "t.csv:1: empty file: a header row is required");
    expect_error("\n\r\n", true,
                 "t.csv:1: empty file: a header row is required");
    static const char nul[] = "a,b\n1,x\0y\n";
    char err[256] = "";
    cds_csv_t *csv = cds_csv_open_mem(nul, sizeof nul - 1, "n.csv", err,
                                      sizeof err);
    assert_non_null(csv);
    assert_int_equal(cds_csv_read_header(csv, err, sizeof err), 0);
    assert_int_equal(cds_csv_next(csv, err, sizeof err), -1);
    assert_string_equal(err, "n.csv:2: NUL byte in a field");
    cds_csv_destroy(&csv);
}

static void
test_bounds(void **state)
{
    (void) state;
    /* 65 fields on line 2 */
    char many[400] = "a\n";
    for (int i = 0; i < 65; i++)
        strcat(many, i ? ",x" : "x");
    strcat(many, "\n");
    expect_error(many, false, "t.csv:2: more than 64 fields in one record");
    char ok64[400] = "";
    for (int i = 0; i < 64; i++)
        strcat(ok64, i ? ",x" : "x");
    cds_csv_t *csv = open_str(ok64);
    expect_record(csv, 1, 64);
    cds_csv_destroy(&csv);

    /* a field of 65537 bytes, quoted over several chunks */
    size_t big = CDS_CSV_MAX_FIELD + 1;
    char *s = malloc(big + 16);
    assert_non_null(s);
    strcpy(s, "h\n\"");
    memset(s + 3, 'x', big);
    strcpy(s + 3 + big, "\"\n");
    expect_error(s, true, "t.csv:2: field longer than 65536 bytes");
    s[3 + big - 1] = '"';       /* exactly 65536 bytes is fine */
    s[3 + big] = '\n';
    s[3 + big + 1] = '\0';
    csv = open_str(s);
    expect_record(csv, 1, 1);
    expect_record(csv, 2, 1);
    assert_int_equal(strlen(cds_csv_field(csv, 0)), CDS_CSV_MAX_FIELD);
    cds_csv_destroy(&csv);
    free(s);
}

static void
test_files_and_streams(void **state)
{
    (void) state;
    char err[256];
    char dir[] = "/tmp/cds_csv_test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/a.csv", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("x,y\n\"1\n2\",3\n4,5\n", fp);
    fclose(fp);

    cds_csv_t *csv = cds_csv_open(path, err, sizeof err);
    assert_non_null(csv);
    assert_string_equal(cds_csv_name(csv), path);
    assert_int_equal(cds_csv_read_header(csv, err, sizeof err), 0);
    expect_record(csv, 2, 2);
    expect_record(csv, 4, 2);
    expect_end(csv);
    cds_csv_destroy(&csv);

    fp = fopen(path, "r");
    assert_non_null(fp);
    csv = cds_csv_open_stream(fp, "stdin");
    assert_non_null(csv);
    expect_record(csv, 1, 2);
    assert_string_equal(cds_csv_field(csv, 0), "x");
    cds_csv_destroy(&csv);
    assert_int_equal(fgetc(fp) != EOF || feof(fp), 1); /* still open */
    fclose(fp);

    char missing[320];
    snprintf(missing, sizeof missing, "%s/none.csv", dir);
    assert_null(cds_csv_open(missing, err, sizeof err));
    char want[400];
    snprintf(want, sizeof want, "%s: No such file or directory", missing);
    assert_string_equal(err, want);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void
test_show(void **state)
{
    (void) state;
    char buf[300];
    assert_string_equal(cds_csv_show("Đức Huệ", buf, sizeof buf), "Đức Huệ");
    assert_string_equal(cds_csv_show("a\"b\\c\n", buf, sizeof buf),
                        "a\\x22b\\x5Cc\\x0A");
    assert_string_equal(cds_csv_show("X\xC3(", buf, sizeof buf),
                        "X\\xC3(");
    char longs[200];
    memset(longs, 'z', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    cds_csv_show(longs, buf, sizeof buf);
    assert_int_equal(strlen(buf), 67);
    assert_string_equal(buf + 64, "...");
    char tiny[8];
    cds_csv_show("abcdefghijk", tiny, sizeof tiny);
    assert_true(strlen(tiny) < sizeof tiny);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoted_fields),
        cmocka_unit_test(test_bom_crlf_blank_lines),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_files_and_streams),
        cmocka_unit_test(test_show),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
