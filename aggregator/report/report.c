/*  report: a result table printed as table, CSV or JSON. See report.h. */
#include "report.h"

#include "cds_util.h"
#include "table.h"

#include <stdlib.h>
#include <string.h>

/* TAB, CR and LF stay (quoted, RFC 4180: a comment may span lines); any
 * other control byte, only possible in text stored before they were
 * refused, is written as an escape (cds_ctl_escape) so a CSV file shown
 * in a terminal cannot drive it. */
void
report_csv_field(FILE *out, const char *s)
{
    char *esc = cds_ctl_escape(s, true);
    const char *t = esc ? esc : "";
    if (!strpbrk(t, ",\"\r\n")) {
        fputs(t, out);
        free(esc);
        return;
    }
    fputc('"', out);
    for (const char *p = t; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
    free(esc);
}

struct report {
    report_format_t format;            /* how report_print prints */
    const char *const *header;         /* borrowed column names */
    const char *types;                 /* borrowed type letters */
    size_t ncols;                      /* columns */
    table_t *table;                    /* every row, as text */
    json_t *rows;                      /* every row, typed */
    char **csv;                        /* CSV-formatted rows (owned) */
    size_t n, cap;                     /* rows */
};

int
report_format_parse(const char *name, report_format_t *out)
{
    static const char *const names[] = { "table", "csv", "json" };
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *out = (report_format_t) i;
            return 0;
        }
    return -1;
}

report_t *
report_new(report_format_t format, const char *const *header,
           const char *types, size_t ncols)
{
    report_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->format = format;
    self->header = header;
    self->types = types;
    self->ncols = ncols;
    self->table = table_new(header, ncols);
    self->rows = json_array();
    if (!self->table || !self->rows)
        report_destroy(&self);
    return self;
}

void
report_destroy(report_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    report_t *self = *self_p;
    table_destroy(&self->table);
    json_decref(self->rows);
    free(self);
    *self_p = NULL;
}

/* JSON value of one cell by its column's type letter. */
static json_t *
cell_json(char type, const char *s)
{
    if (!s || !s[0])
        return json_null();
    if (type == 'b')
        return json_boolean(strcmp(s, "true") == 0 || strcmp(s, "yes") == 0);
    if (type == 'n') {
        char *end = NULL;
        double d = strtod(s, &end);
        if (end && !*end) {
            long long ll = strtoll(s, &end, 10);
            if (end && !*end)
                return json_integer((json_int_t) ll);
            return json_real(d);
        }
    }
    return json_string(s);
}

int
report_add(report_t *self, const char *const *cells)
{
    if (table_add(self->table, cells) != 0)
        return -1;
    json_t *obj = json_object();
    if (!obj)
        return -1;
    for (size_t i = 0; i < self->ncols; i++)
        json_object_set_new(obj, self->header[i],
                            cell_json(self->types[i], cells[i]));
    if (json_array_append_new(self->rows, obj) != 0)
        return -1;
    self->n++;
    return 0;
}

size_t
report_rows(const report_t *self)
{
    return self->n;
}

json_t *
report_json_rows(const report_t *self)
{
    return json_incref(self->rows);
}

static void
print_csv(const report_t *self, FILE *out)
{
    for (size_t i = 0; i < self->ncols; i++) {
        if (i)
            fputc(',', out);
        report_csv_field(out, self->header[i]);
    }
    fputs("\r\n", out);
    for (size_t r = 0; r < self->n; r++) {
        json_t *obj = json_array_get(self->rows, r);
        for (size_t i = 0; i < self->ncols; i++) {
            json_t *v = json_object_get(obj, self->header[i]);
            char num[64] = "";
            const char *s = "";
            if (json_is_string(v))
                s = json_string_value(v);
            else if (json_is_integer(v))
                snprintf(num, sizeof num, "%lld",
                         (long long) json_integer_value(v)), s = num;
            else if (json_is_real(v))
                snprintf(num, sizeof num, "%.15g", json_real_value(v)),
                    s = num;
            else if (json_is_boolean(v))
                s = json_is_true(v) ? "true" : "false";
            if (i)
                fputc(',', out);
            report_csv_field(out, s);
        }
        fputs("\r\n", out);
    }
}

void
report_print(report_t *self, FILE *out, json_t *meta, const char *footer)
{
    if (self->format == REPORT_TABLE) {
        table_print(self->table, out);
        if (footer)
            fprintf(out, "%s\n", footer);
    } else if (self->format == REPORT_CSV) {
        print_csv(self, out);
    } else {
        json_t *top = meta ? meta : json_object();
        meta = NULL;
        json_object_set(top, "rows", self->rows);
        json_dumpf(top, out, JSON_INDENT(2));
        fputc('\n', out);
        json_decref(top);
    }
    json_decref(meta);
}
