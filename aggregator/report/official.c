/*  official: the official report (see official.h): the figures from
 *  rollup_compute, one call per row and one for the total; the sheet
 *  written by libxlsxwriter, the CSV by report_csv_field. SQL in
 *  official_sql.h. Cost: one rollup per child unit (a district's 10-30
 *  communes, a province's 100-300), each a few queries. */
#include "official.h"

#include "official_sql.h"
#include "cds_err.h"
#include "cds_period.h"
#include "cds_util.h"
#include "orgmap.h"
#include "query.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

#define VN_OFFSET_MS (7 * 3600 * 1000ULL)      /* Asia/Ho_Chi_Minh, no DST */

/* One row of the table: a unit and its figures. */
typedef struct {
    char *code, *name;                 /* owned */
    rollup_figure_t *f;                /* one per indicator (owned) */
    size_t nf;
} row_t;

typedef struct {
    row_t *rows;                       /* the children (or the unit) */
    size_t n;
    row_t total;                       /* the asked unit */
    int y, m, d;                       /* the report's date */
} data_t;

int
official_format_parse(const char *name, official_format_t *out)
{
    if (name && strcmp(name, "xlsx") == 0)
        *out = OFFICIAL_XLSX;
    else if (name && strcmp(name, "csv") == 0)
        *out = OFFICIAL_CSV;
    else
        return -1;
    return 0;
}

/* The catalog's unit label in Vietnamese (the catalog keeps English
 * labels); a label not listed is shown as it is. */
static const char *
unit_vi(const cds_indicator_t *ind)
{
    static const char *const map[][2] = {
        { "files", "hồ sơ" }, { "hamlets", "thôn" },
        { "households", "hộ" }, { "members", "thành viên" },
        { "officials", "cán bộ" }, { "people", "người" },
        { "teams", "tổ" }, { "yes/no", "số đơn vị đạt" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(ind->unit, map[i][0]) == 0)
            return map[i][1];
    return ind->unit;
}

/* "Name (unit)", the heading of an indicator's column, into buf. */
static const char *
column_name(const cds_indicator_t *ind, char *buf, size_t len)
{
    const char *u = unit_vi(ind);
    snprintf(buf, len, u[0] ? "%s (%s)" : "%s", ind->name_vi, u);
    return buf;
}

/* ---- figures ------------------------------------------------------------ */

static void
row_free(row_t *r)
{
    free(r->code);
    free(r->name);
    free(r->f);
}

static void
data_free(data_t *dt)
{
    for (size_t i = 0; i < dt->n; i++)
        row_free(&dt->rows[i]);
    free(dt->rows);
    row_free(&dt->total);
}

/* Append a row for (code, name). CDS_OK or CDS_ENOMEM. */
static int
push_row(data_t *dt, size_t *cap, const char *code, const char *name)
{
    if (dt->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        row_t *nr = realloc(dt->rows, nc * sizeof *nr);
        if (!nr)
            return CDS_ENOMEM;
        dt->rows = nr;
        *cap = nc;
    }
    row_t *r = &dt->rows[dt->n];
    memset(r, 0, sizeof *r);
    r->code = strdup(code);
    r->name = strdup(name);
    dt->n++;
    return r->code && r->name ? CDS_OK : CDS_ENOMEM;
}

/* The rows' units: the children of ou valid in the period, else ou. */
static int
children(store_t *store, const char *ou, const cds_period_t *p, data_t *dt)
{
    cds_sql_stmt_t *st = store_read(store, OFFICIAL_SQL_CHILDREN,
                                    OFFICIAL_SQL_CHILDREN_PG);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":ou", ou);
    cds_sql_bind_int64(st, ":start", p->start);
    cds_sql_bind_int64(st, ":end", p->end);
    size_t cap = 0;
    int step, rc = CDS_OK;
    while (rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW)
        rc = push_row(dt, &cap, cds_sql_col_text(st, 0),
                      cds_sql_col_text(st, 1));
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;                     /* logged by cds_sql */
    cds_sql_finalize(&st);
    if (rc == CDS_OK && dt->n == 0)
        rc = push_row(dt, &cap, ou, dt->total.name);
    return rc;
}

/* The report's date: opts->date or today in Vietnam. */
static int
report_date(const official_opts_t *o, data_t *dt, char *err, size_t errlen)
{
    int32_t day;
    if (!o->date) {
        day = (int32_t) ((o->now_ms + VN_OFFSET_MS) / 86400000ULL);
    } else if (cds_date_parse(o->date, &day) != CDS_OK) {
        snprintf(err, errlen, "date: \"%.64s\" is not a date YYYY-MM-DD",
                 o->date);
        return CDS_EUSAGE;
    }
    cds_day_to_ymd(day, &dt->y, &dt->m, &dt->d);
    return CDS_OK;
}

/* Every figure: the total first (it checks the unit, period and
 * indicators), then each row for the same indicators. */
static int
gather(store_t *store, const cds_catalog_t *cat, const rollup_rules_t *rules,
       const official_opts_t *o, data_t *dt, char *err, size_t errlen)
{
    cds_period_t p;
    char name[256] = "";
    int rc = report_date(o, dt, err, errlen);
    if (rc == CDS_OK)
        rc = rollup_compute(store, cat, rules, o->org_unit, o->period,
                            o->indicators, o->n_indicators, &dt->total.f,
                            &dt->total.nf, err, errlen);
    if (rc != CDS_OK)
        return rc;
    orgmap_unit_name(store, o->org_unit, name, sizeof name);
    dt->total.code = strdup(o->org_unit);
    dt->total.name = strdup(name);
    const char **codes = calloc(dt->total.nf + 1, sizeof *codes);
    if (!dt->total.code || !dt->total.name || !codes) {
        free(codes);
        return CDS_ENOMEM;
    }
    for (size_t i = 0; i < dt->total.nf; i++)
        codes[i] = dt->total.f[i].ind->code;
    cds_period_parse(o->period, &p);   /* checked by rollup_compute */
    rc = children(store, o->org_unit, &p, dt);
    for (size_t i = 0; rc == CDS_OK && i < dt->n && dt->total.nf; i++)
        rc = rollup_compute(store, cat, rules, dt->rows[i].code, o->period,
                            codes, dt->total.nf, &dt->rows[i].f,
                            &dt->rows[i].nf, err, errlen);
    free(codes);
    return rc;
}

/* ---- csv ---------------------------------------------------------------- */

static void
csv_row(FILE *out, const char *stt, const row_t *r, const char *name)
{
    char v[32];
    report_csv_field(out, stt);
    fputc(',', out);
    report_csv_field(out, r->code);
    fputc(',', out);
    report_csv_field(out, name);
    for (size_t i = 0; i < r->nf; i++) {
        fputc(',', out);
        report_csv_field(out, rollup_format(r->f[i].value, r->f[i].has_value,
                                           v, sizeof v));
    }
    fputs("\r\n", out);
}

static int
write_csv(const official_opts_t *o, const data_t *dt, const char *path,
          char *err, size_t errlen)
{
    FILE *out = fopen(path, "w");
    if (!out) {
        snprintf(err, errlen, "%s: cannot write: %m", path);
        return CDS_EIO;
    }
    if (o->bom)
        fputs("\xEF\xBB\xBF", out);
    fputs("STT,Mã đơn vị,Đơn vị", out);
    for (size_t i = 0; i < dt->total.nf; i++) {
        char h[512];
        fputc(',', out);
        report_csv_field(out, column_name(dt->total.f[i].ind, h, sizeof h));
    }
    fputs("\r\n", out);
    for (size_t r = 0; r < dt->n; r++) {
        char stt[24];
        snprintf(stt, sizeof stt, "%zu", r + 1);
        csv_row(out, stt, &dt->rows[r], dt->rows[r].name);
    }
    csv_row(out, "", &dt->total, "Tổng cộng");
    if (ferror(out) | (fclose(out) != 0)) {
        snprintf(err, errlen, "%s: write failed", path);
        return CDS_EIO;
    }
    return CDS_OK;
}

/* ---- xlsx --------------------------------------------------------------- */

enum { F_TEXT, F_BOLD, F_ITALIC, F_TITLE, F_HEAD, F_CELL, F_INT, F_DEC, F_PCT,
       F_TCELL, F_TINT, F_TDEC, F_TPCT, F_NOTE, F_N };

typedef struct {
    lxw_workbook *wb;
    lxw_worksheet *ws;
    lxw_format *f[F_N];
    uint16_t last;                     /* last column */
    uint32_t row;                      /* next row to write */
} sheet_t;

/* Number formats: the codes are locale-independent ("," groups, "."
 * decimals); Excel shows them with the reader's separators. */
static lxw_format *
new_format(lxw_workbook *wb, int k)
{
    static const char *const num[F_N] = {
        [F_INT] = "#,##0", [F_DEC] = "#,##0.00", [F_PCT] = "#,##0.00\" %\"",
        [F_TINT] = "#,##0", [F_TDEC] = "#,##0.00",
        [F_TPCT] = "#,##0.00\" %\"",
    };
    lxw_format *f = workbook_add_format(wb);
    format_set_font_name(f, "Times New Roman");
    format_set_font_size(f, k == F_TITLE ? 14 : k == F_NOTE ? 11 : 12);
    if (k == F_BOLD || k == F_TITLE || k == F_HEAD || k >= F_TCELL)
        format_set_bold(f);
    if (k == F_ITALIC)
        format_set_italic(f);
    if (k == F_BOLD || k == F_ITALIC || k == F_TITLE || k == F_HEAD)
        format_set_align(f, LXW_ALIGN_CENTER);
    if (k == F_HEAD) {
        format_set_text_wrap(f);
        format_set_align(f, LXW_ALIGN_VERTICAL_CENTER);
        format_set_bg_color(f, 0xDDEBF7);
    }
    if (k >= F_HEAD && k <= F_TPCT)
        format_set_border(f, LXW_BORDER_THIN);
    if (num[k])
        format_set_num_format(f, num[k]);
    return f;
}

/* Text across columns [c0, c1] of the current row (one cell when c0 ==
 * c1: libxlsxwriter refuses a one-cell merge). */
static void
span(sheet_t *s, uint16_t c0, uint16_t c1, const char *text, int fmt)
{
    if (c1 > c0)
        worksheet_merge_range(s->ws, s->row, c0, s->row, c1, text, s->f[fmt]);
    else
        worksheet_write_string(s->ws, s->row, c0, text, s->f[fmt]);
}

/* Issuing unit and number | national heading; place and date; title. */
static void
heading(sheet_t *s, const official_opts_t *o, const data_t *dt)
{
    char buf[512], words[96];
    const char *issuer = o->issuer ? o->issuer : dt->total.name;
    uint16_t mid = s->last >= 3 ? 2 : 1;
    span(s, 0, mid - 1, issuer, F_BOLD);
    span(s, mid, s->last, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", F_BOLD);
    s->row++;
    span(s, 0, mid - 1, o->number ? o->number : "Số:      /BC", F_TEXT);
    span(s, mid, s->last, "Độc lập - Tự do - Hạnh phúc", F_BOLD);
    s->row += 2;
    snprintf(buf, sizeof buf, "%s, ngày %02d tháng %02d năm %d",
             o->place ? o->place : dt->total.name, dt->d, dt->m, dt->y);
    span(s, mid, s->last, buf, F_ITALIC);
    s->row += 2;
    span(s, 0, s->last, "BÁO CÁO", F_TITLE);
    s->row++;
    snprintf(buf, sizeof buf, "%s %s",
             o->title ? o->title : "Kết quả chuyển đổi số",
             cds_period_words_vi(o->period, words, sizeof words));
    span(s, 0, s->last, buf, F_BOLD);
    s->row++;
    snprintf(buf, sizeof buf, "Đơn vị: %s", dt->total.name);
    span(s, 0, s->last, buf, F_ITALIC);
    s->row += 2;
}

/* One figure cell, a number with its format, blank when none. */
static void
figure(sheet_t *s, uint16_t col, const rollup_figure_t *f, bool total)
{
    int k;
    if (!f->has_value) {
        worksheet_write_blank(s->ws, s->row, col,
                              s->f[total ? F_TCELL : F_CELL]);
        return;
    }
    if (f->ind->type == CDS_VT_PERCENTAGE)
        k = F_PCT;
    else if (floor(f->value) == f->value && fabs(f->value) < 1e15)
        k = F_INT;
    else
        k = F_DEC;
    worksheet_write_number(s->ws, s->row, col, f->value,
                           s->f[total ? k - F_INT + F_TINT : k]);
}

/* The header row and the rows; frozen below the header, left of the
 * figures; the header repeated on every printed page. */
static void
table(sheet_t *s, const data_t *dt)
{
    char h[512];
    uint32_t head = s->row;
    size_t lines = 2;                  /* of the longest heading, wrapped */
    for (size_t i = 0; i < dt->total.nf; i++) {
        size_t w = cds_utf8_width(column_name(dt->total.f[i].ind, h,
                                              sizeof h));
        if ((w + 11) / 12 > lines)
            lines = (w + 11) / 12;     /* ~12 characters a line at 14 */
    }
    worksheet_set_row(s->ws, head, 16.0 * (double) (lines < 10 ? lines : 10),
                      NULL);
    worksheet_write_string(s->ws, head, 0, "STT", s->f[F_HEAD]);
    worksheet_write_string(s->ws, head, 1, "Đơn vị", s->f[F_HEAD]);
    for (size_t i = 0; i < dt->total.nf; i++)
        worksheet_write_string(s->ws, head, (uint16_t) (i + 2),
                               column_name(dt->total.f[i].ind, h, sizeof h),
                               s->f[F_HEAD]);
    worksheet_freeze_panes(s->ws, head + 1, 2);
    worksheet_repeat_rows(s->ws, head, head);
    s->row = head + 1;
    for (size_t r = 0; r <= dt->n; r++, s->row++) {
        const row_t *row = r < dt->n ? &dt->rows[r] : &dt->total;
        bool total = r == dt->n;
        if (total)
            worksheet_write_blank(s->ws, s->row, 0, s->f[F_TCELL]);
        else
            worksheet_write_number(s->ws, s->row, 0, (double) (r + 1),
                                   s->f[F_INT]);
        worksheet_write_string(s->ws, s->row, 1,
                               total ? "Tổng cộng" : row->name,
                               s->f[total ? F_TCELL : F_CELL]);
        for (size_t i = 0; i < row->nf; i++)
            figure(s, (uint16_t) (i + 2), &row->f[i], total);
    }
}

/* A note line: in the first column, not merged, so that a long line runs
 * on over the empty cells beside it instead of being cut. */
static void
note(sheet_t *s, const char *text)
{
    worksheet_write_string(s->ws, s->row++, 0, text, s->f[F_NOTE]);
}

/* Notes: how the total is made, and every incomplete figure. */
static void
notes(sheet_t *s, const data_t *dt)
{
    char buf[768];
    size_t incomplete = 0;
    s->row++;
    note(s, "Ghi chú:");
    note(s, "- Dòng Tổng cộng là số liệu của toàn đơn vị tính theo quy tắc "
         "tổng hợp của từng chỉ tiêu (tỷ lệ, số liệu kỳ cuối), không phải "
         "phép cộng các dòng trên.");
    for (size_t i = 0; i < dt->total.nf; i++) {
        const rollup_figure_t *f = &dt->total.f[i];
        if (f->has_value && f->covered >= f->expected)
            continue;
        snprintf(buf, sizeof buf, "- %s: %zu/%zu đơn vị cơ sở đã báo cáo%s%s",
                 f->ind->name_vi, f->covered, f->expected,
                 f->note[0] ? "; " : "", f->note);
        note(s, buf);
        incomplete++;
    }
    if (!incomplete)
        note(s, "- Tất cả đơn vị cơ sở đã báo cáo đủ các chỉ tiêu trên.");
}

static void
signature(sheet_t *s, const official_opts_t *o)
{
    uint16_t mid = s->last >= 3 ? 2 : 1;
    s->row++;
    span(s, mid, s->last, o->signer_title ? o->signer_title
                                         : "THỦ TRƯỞNG ĐƠN VỊ", F_BOLD);
    s->row++;
    span(s, mid, s->last, "(Ký, ghi rõ họ tên, đóng dấu)", F_ITALIC);
    s->row += 4;
    if (o->signer)
        span(s, mid, s->last, o->signer, F_BOLD);
}

static int
write_xlsx(const official_opts_t *o, const data_t *dt, const char *path,
           char *err, size_t errlen)
{
    sheet_t s = { .last = (uint16_t) (dt->total.nf + 1) };
    s.wb = workbook_new(path);
    s.ws = s.wb ? workbook_add_worksheet(s.wb, "Báo cáo") : NULL;
    if (!s.ws) {
        workbook_close(s.wb);
        snprintf(err, errlen, "%s: cannot create the workbook", path);
        return CDS_EIO;
    }
    for (int k = 0; k < F_N; k++)
        s.f[k] = new_format(s.wb, k);
    worksheet_set_column(s.ws, 0, 0, 5, NULL);
    worksheet_set_column(s.ws, 1, 1, 28, NULL);
    if (s.last >= 2)
        worksheet_set_column(s.ws, 2, s.last, 14, NULL);
    worksheet_set_landscape(s.ws);
    worksheet_set_paper(s.ws, 9);      /* A4 */
    worksheet_set_margins(s.ws, 0.5, 0.5, 0.6, 0.6);
    worksheet_fit_to_pages(s.ws, 1, 0);
    heading(&s, o, dt);
    table(&s, dt);
    notes(&s, dt);
    signature(&s, o);
    lxw_error e = workbook_close(s.wb);
    if (e != LXW_NO_ERROR) {
        snprintf(err, errlen, "%s: %s", path, lxw_strerror(e));
        return CDS_EIO;
    }
    return CDS_OK;
}

int
official_write(store_t *store, const cds_catalog_t *catalog,
               const rollup_rules_t *rules, const official_opts_t *opts,
               const char *path, char *err, size_t errlen)
{
    data_t dt = { 0 };
    int rc = gather(store, catalog, rules, opts, &dt, err, errlen);
    if (rc == CDS_OK)
        rc = opts->format == OFFICIAL_CSV
                 ? write_csv(opts, &dt, path, err, errlen)
                 : write_xlsx(opts, &dt, path, err, errlen);
    data_free(&dt);
    return rc;
}
