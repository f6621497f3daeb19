/*  cds_util_test: clocks, hex, file reads, UTF-8, mkdir -p, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cds_err.h"
#include "cds_util.h"

static char dir[] = "/tmp/cds_util_test.XXXXXX";

static int
setup(void **state)
{
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
test_clocks(void **state)
{
    uint64_t now = cds_now_ms();
    assert_true(now > 1700000000000ull); /* after Nov 2023 */
    assert_true(now < 4102444800000ull); /* before 2100 */
    uint64_t m1 = cds_mono_ms(), m2 = cds_mono_ms();
    assert_true(m2 >= m1);
    assert_true(cds_now_ms() >= now);
}

static void
test_hex(void **state)
{
    const uint8_t in[] = {0x00, 0x01, 0xab, 0xff};
    char out[9];
    uint8_t back[4];
    assert_ptr_equal(cds_hex(out, in, 4), out);
    assert_string_equal(out, "0001abff");
    assert_int_equal(cds_unhex(back, 4, "0001abff"), 0);
    assert_memory_equal(back, in, 4);
    assert_int_equal(cds_unhex(back, 4, "0001ABFF"), 0);
    assert_memory_equal(back, in, 4);
    assert_int_equal(cds_unhex(back, 4, "0001abf"), -1);    /* short */
    assert_int_equal(cds_unhex(back, 4, "0001abff00"), -1); /* long */
    assert_int_equal(cds_unhex(back, 4, "0001abgf"), -1);   /* not hex */
    assert_int_equal(cds_unhex(back, 4, "0001 bff"), -1);
    assert_int_equal(cds_unhex(back, 4, NULL), -1);
    assert_string_equal(cds_hex(out, in, 0), "");
}

static void
write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void
test_read_file(void **state)
{
    char path[128], *data = NULL;
    size_t len = 99;
    snprintf(path, sizeof path, "%s/f.txt", dir);
    write_file(path, "abc\0def", 7);
    assert_int_equal(cds_read_file(path, 7, &data, &len), CDS_OK);
    assert_int_equal(len, 7);
    assert_memory_equal(data, "abc\0def", 8); /* NUL-terminated too */
    free(data);
    assert_int_equal(cds_read_file(path, 6, &data, &len), CDS_ETOOBIG);
    assert_null(data);

    char *big = malloc(100000);
    memset(big, 'z', 100000);
    write_file(path, big, 100000);
    assert_int_equal(cds_read_file(path, 100000, &data, &len), CDS_OK);
    assert_int_equal(len, 100000);
    assert_memory_equal(data, big, 100000);
    free(data);
    assert_int_equal(cds_read_file(path, 99999, &data, &len), CDS_ETOOBIG);
    free(big);

    write_file(path, "", 0);
    assert_int_equal(cds_read_file(path, 0, &data, &len), CDS_OK);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    free(data);
    unlink(path);

    errno = 0;
    assert_int_equal(cds_read_file(path, 10, &data, &len), CDS_EIO);
    assert_int_equal(errno, ENOENT);
    assert_null(data);
}

static void
test_utf8_valid(void **state)
{
#define V(s) cds_utf8_valid(s, sizeof(s) - 1)
    assert_true(V(""));
    assert_true(V("plain ascii"));
    assert_true(V("Trạm Y tế xã Hòa Bình"));
    assert_true(V("\xed\x9f\xbf"));     /* U+D7FF */
    assert_true(V("\xee\x80\x80"));     /* U+E000 */
    assert_true(V("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
    assert_true(V("\xf0\x9f\x98\x80")); /* U+1F600 */
    assert_false(V("\xc0\xaf"));        /* overlong '/' */
    assert_false(V("\xc1\xbf"));
    assert_false(V("\xe0\x80\xaf")); /* overlong 3-byte */
    assert_false(V("\xe0\x9f\xbf"));
    assert_false(V("\xf0\x8f\xbf\xbf")); /* overlong 4-byte */
    assert_false(V("\xed\xa0\x80"));     /* U+D800 surrogate */
    assert_false(V("\xed\xbf\xbf"));     /* U+DFFF */
    assert_false(V("\xf4\x90\x80\x80")); /* U+110000 */
    assert_false(V("\xf5\x80\x80\x80"));
    assert_false(V("\xff"));
    assert_false(V("\x80"));  /* lone continuation */
    assert_false(V("a\xc3")); /* truncated */
    assert_false(V("\xe1\x80"));
    assert_false(V("\xc3\x28")); /* bad continuation */
#undef V
    assert_true(cds_utf8_valid("\xc3\xa0\xc3", 2)); /* len is honoured */
}

static void
test_utf8_width(void **state)
{
    assert_int_equal(cds_utf8_width(""), 0);
    assert_int_equal(cds_utf8_width("abc"), 3);
    assert_int_equal(cds_utf8_width("Hòa"), 3); /* precomposed */
    assert_int_equal(cds_utf8_width("Ho\xcc\x80"
                                    "a"),
                     3);                                      /* o + U+0300 */
    assert_int_equal(cds_utf8_width("e\xcc\x82\xcc\x81"), 1); /* two marks */
    assert_int_equal(cds_utf8_width("x\xe1\xb7\x80"), 1);     /* U+1DC0 */
    assert_int_equal(cds_utf8_width("x\xe2\x83\x90"), 1);     /* U+20D0 */
    assert_int_equal(cds_utf8_width("x\xef\xb8\xa0"), 1);     /* U+FE20 */
    assert_int_equal(cds_utf8_width("x\xcd\xb0"), 2);         /* U+0370 */
    assert_int_equal(cds_utf8_width("a\xff"
                                    "b"),
                     3); /* bad byte */
}

static void
test_mkdir_p(void **state)
{
    char path[256], file[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/a/b//c/", dir);
    assert_int_equal(cds_mkdir_p(path, 0750), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
#ifndef _WIN32                         /* Windows: no mode bits (ACLs) */
    assert_int_equal(st.st_mode & 0777 & ~0750, 0);
#endif
    assert_int_equal(cds_mkdir_p(path, 0750), 0); /* exists: fine */
    snprintf(file, sizeof file, "%s/a/file", dir);
    write_file(file, "x", 1);
    snprintf(path, sizeof path, "%s/a/file/sub", dir);
    errno = 0;
    assert_int_equal(cds_mkdir_p(path, 0750), -1);
    assert_int_equal(errno, ENOTDIR);
    assert_int_equal(cds_mkdir_p(file, 0750), -1);
    assert_int_equal(errno, ENOTDIR);
    assert_int_equal(cds_mkdir_p("", 0750), -1);
#ifdef _WIN32
    /* A drive-letter path, as the defaults (C:/ProgramData/cdsync/...):
     * "X:" is not made, and '\\' separates as '/' does. */
    char full[300];
    snprintf(path, sizeof path, "%s/d1", dir);
    assert_non_null(_fullpath(full, path, sizeof full));
    assert_int_equal(full[1], ':');
    strcat(full, "\\e1\\f1");
    assert_int_equal(cds_mkdir_p(full, 0750), 0);
    assert_int_equal(stat(full, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    for (char *p = full; *p; p++)
        if (*p == '\\')
            *p = '/';
    strcat(full, "/g1");
    assert_int_equal(cds_mkdir_p(full, 0750), 0);
    assert_int_equal(stat(full, &st), 0);
#endif
}

static void
test_format_age(void **state)
{
    char buf[32];
    assert_string_equal(cds_format_age(buf, sizeof buf, 0), "just now");
    assert_string_equal(cds_format_age(buf, sizeof buf, 999), "just now");
    assert_string_equal(cds_format_age(buf, sizeof buf, 42000), "42 s ago");
    assert_string_equal(cds_format_age(buf, sizeof buf, 59999), "59 s ago");
    assert_string_equal(cds_format_age(buf, sizeof buf, 60000), "1 min ago");
    assert_string_equal(cds_format_age(buf, sizeof buf, 3 * 60000 + 5),
                        "3 min ago");
    assert_string_equal(cds_format_age(buf, sizeof buf, 5 * 3600000ull),
                        "5 h ago");
    assert_string_equal(cds_format_age(buf, sizeof buf, 86400000ull),
                        "1 day ago");
    assert_string_equal(cds_format_age(buf, sizeof buf, 2 * 86400000ull + 7),
                        "2 days ago");
    /* Spans: two units at most, truncated (clock offsets in health). */
    assert_string_equal(cds_format_span(buf, sizeof buf, 999), "0 s");
    assert_string_equal(cds_format_span(buf, sizeof buf, 300000), "5 min");
    assert_string_equal(cds_format_span(buf, sizeof buf, 7380000 + 59999),
                        "2 h 3 min");
    assert_string_equal(cds_format_span(buf, sizeof buf, 7200000), "2 h 0 min");
    assert_string_equal(cds_format_span(buf, sizeof buf, 26 * 3600000ull),
                        "1 day 2 h");
    char small[5];
    assert_string_equal(cds_format_age(small, sizeof small, 42000), "42 s");
}

static void
test_format_time(void **state)
{
    char buf[32];
    assert_string_equal(cds_format_time(buf, sizeof buf, 0),
                        "1970-01-01T00:00:00.000Z");
    /* 2026-11-28T05:13:47.123Z */
    assert_string_equal(cds_format_time(buf, sizeof buf, 1795842827123ull),
                        "2026-11-28T05:13:47.123Z");
    char small[10];
    assert_string_equal(cds_format_time(small, sizeof small, 0), "");
}

/* cds_fsync_dir: the directory of an existing file syncs; a path whose
 * directory does not exist says so (ENOENT), and an over-long one too. */
static void
test_fsync_dir(void **state)
{
    (void) state;
    char tmp[] = "/tmp/cds_util_test.XXXXXX", file[64];
    assert_non_null(mkdtemp(tmp));
    snprintf(file, sizeof file, "%s/x", tmp);
    assert_int_equal(cds_fsync_dir(file), 0);
    assert_int_equal(cds_fsync_dir("/nonexistent-cds-dir/x"), -1);
    assert_int_equal(errno, ENOENT);
    char *big = malloc(PATH_MAX + 16);
    assert_non_null(big);
    memset(big, 'a', PATH_MAX + 15);
    big[PATH_MAX + 15] = '\0';
    assert_int_equal(cds_fsync_dir(big), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    free(big);
    rmdir(tmp);
}

/* Write text into a new temporary file beside path; its name into tmp. */
static void
temp_with(const char *path, const char *text, char *tmp, size_t len)
{
    char err[256];
    assert_int_equal(cds_temp_beside(path, tmp, len, err, sizeof err), CDS_OK);
    assert_int_equal(strncmp(tmp, path, strlen(path)), 0);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* cds_publish_file never replaces a file unless asked, and a refused
 * publish leaves the target as it was and no temporary file. */
static void
test_publish_file(void **state)
{
    char path[PATH_MAX], tmp[PATH_MAX], err[256], *data = NULL;
    size_t len = 0;
    struct stat st;
    snprintf(path, sizeof path, "%s/report.xlsx", dir);
    temp_with(path, "one", tmp, sizeof tmp);
    assert_int_equal(cds_publish_file(tmp, path, false, err, sizeof err),
                     CDS_OK);
    assert_int_equal(stat(tmp, &st), -1);
    temp_with(path, "two", tmp, sizeof tmp);
    assert_int_equal(cds_publish_file(tmp, path, false, err, sizeof err),
                     CDS_EUSAGE);
    assert_non_null(strstr(err, "already exists"));
    assert_int_equal(stat(tmp, &st), -1);
    assert_int_equal(cds_read_file(path, 100, &data, &len), CDS_OK);
    assert_memory_equal(data, "one", 3);
    free(data);
    temp_with(path, "three", tmp, sizeof tmp);
    assert_int_equal(cds_publish_file(tmp, path, true, err, sizeof err),
                     CDS_OK);
    assert_int_equal(cds_read_file(path, 100, &data, &len), CDS_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "three", 5);
    free(data);
    assert_int_equal(cds_temp_beside("/nonexistent-dir/x", tmp, sizeof tmp,
                                     err, sizeof err), CDS_EIO);
    assert_non_null(strstr(err, "cannot create"));
    unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clocks),     cmocka_unit_test(test_hex),
        cmocka_unit_test(test_read_file),  cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_width), cmocka_unit_test(test_mkdir_p),
        cmocka_unit_test(test_fsync_dir),
        cmocka_unit_test(test_format_age), cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_publish_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
