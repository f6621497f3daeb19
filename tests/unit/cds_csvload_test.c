/*  Unit tests for cds_csvload, the loaders' shared read loop, through a
 *  toy loader (columns code and name required, note optional): check mode
 *  reports every bad row in file order and goes on, load mode stops at the
 *  first and returns nothing half-built; a bad header, an empty file, a NUL
 *  byte, an over-long field and a CRLF file; control bytes reach the row
 *  function as they are and come out escaped in the message; STOP and
 *  finish's -1 end the reading in both modes, finish's problems through
 *  cds_csvload_problem do not. Messages are checked for what they must
 *  name (file, line, column, value), and load's message against check's
 *  first line, not against copies of the strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cds_csvload.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { C_CODE, C_NAME, C_NOTE, C__COUNT };
static const char *const col_names[C__COUNT] = { "code", "name", "note" };
static const int required[] = { C_CODE, C_NAME, -1 };

typedef struct {
    size_t rows;               /* rows taken */
    size_t lines[16];          /* their lines */
    char names[16][32];        /* their names, as the row function saw them */
    size_t finish_bad;         /* ld->bad when finish ran; SIZE_MAX: never */
    bool counted;              /* in live */
} toy_t;

static int live;               /* toy_t objects seen and not destroyed */
static char tmpdir[64];
static char path[128];

/* The helper allocates the result: it is counted once a row or finish
 * sees it. */
static toy_t *
seen(void *self)
{
    toy_t *t = self;
    if (!t->counted) {
        t->counted = true;
        t->finish_bad = SIZE_MAX;
        live++;
    }
    return t;
}

static void
toy_destroy(void *self)
{
    if (self && ((toy_t *) self)->counted)
        live--;
    free(self);
}

/* code: A-Z only ("STOP": ends the reading); name: no control byte. */
static int
toy_row(cds_csvload_t *ld, void *self)
{
    toy_t *t = seen(self);
    size_t line = cds_csvload_line(ld);
    const char *code = cds_csvload_get(ld, C_CODE);
    const char *name = cds_csvload_get(ld, C_NAME);
    if (strcmp(code, "STOP") == 0) {
        cds_csvload_error(ld, line, C_CODE, "stop here", code);
        return CDS_CSVLOAD_STOP;
    }
    if (!code[0] || strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(code))
        return cds_csvload_error(ld, line, C_CODE, "not A-Z", code);
    for (const char *p = name; *p; p++)
        if ((unsigned char) *p < 0x20)
            return cds_csvload_error(ld, line, C_NAME, "control byte", name);
    if (t->rows < 16) {
        t->lines[t->rows] = line;
        snprintf(t->names[t->rows], sizeof t->names[0], "%s", name);
    }
    t->rows++;
    return 0;
}

static size_t finish_rows, finish_bad;   /* what toy_finish last saw */

static int
toy_finish(cds_csvload_t *ld, void *self)
{
    toy_t *t = seen(self);
    t->finish_bad = finish_bad = ld->bad;
    finish_rows = t->rows;
    return 0;
}

static const cds_csvload_spec_t spec = {
    .columns = col_names, .ncolumns = C__COUNT, .required = required,
    .size = sizeof (toy_t), .destroy = toy_destroy, .row = toy_row,
    .finish = toy_finish,
};

static int finish_calls;

static int
late_finish(cds_csvload_t *ld, void *self)
{
    finish_calls++;
    cds_csvload_error(ld, ld->header_line, C_NOTE, "late problem", "x");
    if (cds_csvload_problem(ld) < 0)
        return -1;
    cds_csvload_error(ld, ld->header_line, C_NOTE, "late problem", "y");
    return cds_csvload_problem(ld);
}

static int
fatal_finish(cds_csvload_t *ld, void *self)
{
    finish_calls++;
    return cds_csvload_error(ld, ld->header_line, C_CODE, "whole-file "
                             "problem", NULL);
}

static int
setup(void **state)
{
    (void) state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cds_csvload_test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(path, sizeof path, "%s/toy.csv", tmpdir);
    live = 0;
    finish_calls = 0;
    finish_rows = finish_bad = SIZE_MAX;
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    unlink(path);
    return rmdir(tmpdir);
}

static void
write_bytes(const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void
write_file(const char *text)
{
    write_bytes(text, strlen(text));
}

/* What check mode printed, as lines. */
typedef struct {
    char *buf;
    size_t len;
    size_t n;                  /* the number returned */
    char *line[16];
    size_t nlines;
} report_t;

static void
run_check(const cds_csvload_spec_t *sp, report_t *r)
{
    memset(r, 0, sizeof *r);
    FILE *out = open_memstream(&r->buf, &r->len);
    assert_non_null(out);
    r->n = cds_csvload_check(sp, path, NULL, out);
    assert_int_equal(fclose(out), 0);
    for (char *save = NULL, *l = strtok_r(r->buf, "\n", &save);
         l && r->nlines < 16; l = strtok_r(NULL, "\n", &save))
        r->line[r->nlines++] = l;
    assert_int_equal(r->nlines, r->n);   /* one line per problem counted */
    assert_int_equal(live, 0);           /* nothing kept, nothing leaked */
}

/* Line i of r starts "path:line:" and, when column is not NULL, names it
 * as "path:line: column: ". */
static void
expect_at(const report_t *r, size_t i, size_t line, const char *column)
{
    char want[256];
    if (column)
        snprintf(want, sizeof want, "%s:%zu: %s: ", path, line, column);
    else
        snprintf(want, sizeof want, "%s:%zu: ", path, line);
    if (strncmp(r->line[i], want, strlen(want)) != 0)
        fail_msg("line %zu: \"%s\" does not start \"%s\"", i, r->line[i],
                 want);
}

/* Load fails, with err equal to what check printed first. */
static void
expect_load_fails(const report_t *r)
{
    char err[1024] = "";
    assert_null(cds_csvload_load(&spec, path, NULL, err, sizeof err));
    assert_int_equal(live, 0);
    assert_true(r->nlines > 0);
    assert_string_equal(err, r->line[0]);
}

static void
test_good_crlf_bom(void **state)
{
    (void) state;
    write_file("\xef\xbb\xbf" "NAME,Code,Note,extra\r\n"
               "Ann,AB,,1\r\n"
               "\r\n"
               "Bob,CD,\"two\r\nlines\",2\r\n"
               "Dan,EF,,3\r\n");
    char err[1024] = "";
    toy_t *t = cds_csvload_load(&spec, path, NULL, err, sizeof err);
    if (!t)
        fail_msg("%s", err);
    assert_int_equal(t->rows, 3);
    assert_int_equal(t->lines[0], 2);
    assert_int_equal(t->lines[1], 4);    /* the blank line 3 skipped */
    assert_int_equal(t->lines[2], 6);    /* line 4's note spans two */
    assert_string_equal(t->names[0], "Ann");    /* no '\r' kept */
    assert_string_equal(t->names[1], "Bob");
    assert_string_equal(t->names[2], "Dan");
    assert_int_equal(t->finish_bad, 0);
    toy_destroy(t);
    report_t r;
    run_check(&spec, &r);
    assert_int_equal(r.n, 0);
    free(r.buf);
}

static void
test_every_bad_row(void **state)
{
    (void) state;
    write_file("code,name\n"
               "AB,Ann\n"
               "a1,Bob\n"           /* 3: code */
               "CD,Cat\n"
               ",Dan\n"             /* 5: code empty */
               "EF,\"E\x01ve\"\n"   /* 6: name, control byte */
               "GH,Gus\n");
    report_t r;
    run_check(&spec, &r);
    assert_int_equal(r.n, 3);
    expect_at(&r, 0, 3, "code");
    assert_non_null(strstr(r.line[0], "\"a1\""));       /* the value */
    expect_at(&r, 1, 5, "code");
    expect_at(&r, 2, 6, "name");
    assert_null(strchr(r.line[2], '\x01'));    /* shown escaped, not raw */
    assert_non_null(strstr(r.line[2], "E\\x01ve"));
    expect_load_fails(&r);
    free(r.buf);
}

/* finish runs in check mode after a row problem: it sees the good rows
 * and the problem counted; its own problems through cds_csvload_problem
 * are printed after the rows' and the reading is not cut short. */
static void
test_finish_after_bad_rows(void **state)
{
    (void) state;
    write_file("code,name\nAB,Ann\nx,Bob\nCD,Cat\n");
    report_t r;
    run_check(&spec, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(finish_rows, 2);
    assert_int_equal(finish_bad, 1);
    free(r.buf);
    cds_csvload_spec_t late = spec;
    late.finish = late_finish;
    run_check(&late, &r);
    assert_int_equal(finish_calls, 1);
    assert_int_equal(r.n, 3);            /* the row, then both of finish's */
    expect_at(&r, 0, 3, "code");
    expect_at(&r, 1, 1, "note");
    expect_at(&r, 2, 1, "note");
    assert_non_null(strstr(r.line[2], "\"y\""));
    free(r.buf);
}

static void
test_bad_header(void **state)
{
    (void) state;
    report_t r;
    write_file("code,note\nAB,x\n");     /* name missing */
    run_check(&spec, &r);
    assert_int_equal(r.n, 1);
    expect_at(&r, 0, 1, "name");
    expect_load_fails(&r);
    free(r.buf);
    write_file("\n\nnote\nx\n");          /* both missing: the first named */
    run_check(&spec, &r);
    assert_int_equal(r.n, 1);
    expect_at(&r, 0, 3, "code");
    free(r.buf);
    write_file("code,name,Code\nAB,Ann,AB\n");    /* duplicate name */
    run_check(&spec, &r);
    assert_int_equal(r.n, 1);
    expect_at(&r, 0, 1, NULL);
    expect_load_fails(&r);
    free(r.buf);
}

static void
test_empty_file(void **state)
{
    (void) state;
    report_t r;
    write_file("");
    run_check(&spec, &r);
    assert_int_equal(r.n, 1);
    expect_at(&r, 0, 1, NULL);
    expect_load_fails(&r);
    free(r.buf);
    write_file("code,name\n");    /* a header and no row: the loader's call */
    char err[1024] = "";
    toy_t *t = cds_csvload_load(&spec, path, NULL, err, sizeof err);
    assert_non_null(t);
    assert_int_equal(t->rows, 0);
    toy_destroy(t);
}

/* A NUL byte ends the reading: the row before it is reported, the NUL's
 * line last, and nothing after it. */
static void
test_nul_byte(void **state)
{
    (void) state;
    static const char data[] = "code,name\nx,Ann\nAB,B\0b\ny,Cat\n";
    write_bytes(data, sizeof data - 1);
    report_t r;
    run_check(&spec, &r);
    assert_int_equal(r.n, 2);
    expect_at(&r, 0, 2, "code");
    expect_at(&r, 1, 3, NULL);
    expect_load_fails(&r);
    free(r.buf);
}

static void
test_over_long_field(void **state)
{
    (void) state;
    size_t big = CDS_CSV_MAX_FIELD + 10;
    char *data = malloc(big + 64);
    assert_non_null(data);
    size_t n = (size_t) sprintf(data, "code,name\nAB,Ann\nCD,");
    memset(data + n, 'x', big);
    n += big;
    n += (size_t) sprintf(data + n, "\nEF,Eve\n");
    write_bytes(data, n);
    free(data);
    report_t r;
    run_check(&spec, &r);
    assert_int_equal(r.n, 1);
    expect_at(&r, 0, 3, NULL);
    expect_load_fails(&r);
    free(r.buf);
}

/* STOP ends the reading in check mode too; finish's -1 likewise. */
static void
test_stop_and_fatal_finish(void **state)
{
    (void) state;
    report_t r;
    write_file("code,name\nx,Ann\nSTOP,Bob\ny,Cat\n");
    run_check(&spec, &r);
    assert_int_equal(r.n, 2);
    expect_at(&r, 0, 2, "code");
    expect_at(&r, 1, 3, "code");       /* and not line 4 */
    free(r.buf);
    cds_csvload_spec_t fatal = spec;
    fatal.finish = fatal_finish;
    write_file("code,name\nAB,Ann\n");
    run_check(&fatal, &r);
    assert_int_equal(r.n, 1);
    expect_at(&r, 0, 1, "code");
    free(r.buf);
    char err[1024] = "";
    assert_null(cds_csvload_load(&fatal, path, NULL, err, sizeof err));
    assert_int_equal(live, 0);
    assert_int_equal(finish_calls, 2);
}

static void
test_unreadable(void **state)
{
    (void) state;
    report_t r;
    unlink(path);                      /* no such file */
    run_check(&spec, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(strncmp(r.line[0], path, strlen(path)), 0);
    assert_int_equal(r.line[0][strlen(path)], ':');
    expect_load_fails(&r);
    free(r.buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_crlf_bom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_bad_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_after_bad_rows, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_over_long_field, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_fatal_finish, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unreadable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
