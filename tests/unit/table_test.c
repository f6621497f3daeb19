/*  table_test: columns align by display width (Vietnamese combining marks),
 *  NULL cells print empty, rows are counted without the header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

static void
test_aligned_by_display_width(void **state)
{
    (void) state;
    const char *h[] = { "CODE", "NAME", "V" };
    table_t *t = table_new(h, 3);
    assert_non_null(t);
    assert_int_equal(table_rows(t), 0);
    /* "Xã Mỹ Quý" in decomposed form: combining marks take no column. */
    const char *r1[] = { "C1", "Xa\xcc\x83 My\xcc\x83 Quy\xcc\x81", "1" };
    const char *r2[] = { "C22", "Ab", NULL };
    assert_int_equal(table_add(t, r1), 0);
    assert_int_equal(table_add(t, r2), 0);
    assert_int_equal(table_rows(t), 2);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    table_print(t, f);
    fclose(f);
    assert_string_equal(buf, "CODE  NAME       V\n"
                             "C1    Xa\xcc\x83 My\xcc\x83 Quy\xcc\x81  1\n"
                             "C22   Ab\n");
    free(buf);
    table_destroy(&t);
    assert_null(t);
    table_destroy(&t);
}

/* Control bytes in a cell are shown as escapes: one line per row, no
 * terminal escape sequence reaches the terminal. */
static void
test_control_bytes_escaped(void **state)
{
    (void) state;
    const char *h[] = { "BY", "V" };
    table_t *t = table_new(h, 2);
    const char *r[] = { "nurse\x1b[2J\r\nforged\t\x7f", "1" };
    assert_int_equal(table_add(t, r), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    table_print(t, f);
    fclose(f);
    assert_string_equal(buf, "BY" "                            V\n"
                             "nurse\\x1b[2J\\r\\nforged\\t\\x7f  1\n");
    free(buf);
    table_destroy(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_bytes_escaped),
        cmocka_unit_test(test_aligned_by_display_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
