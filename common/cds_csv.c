/*  cds_csv: strict, bounded CSV record reader (see cds_csv.h).
 *
 *  libcsv is push-based (a callback per field and per record), so we feed
 *  it one physical line at a time (lines longer than the chunk buffer in
 *  several pieces) and queue the records its callbacks complete. Counting
 *  the LFs we fed tells the line each record starts on. */
#include "cds_csv.h"

#include "cds_util.h"

#include <csv.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHUNK 4096             /* bytes fed to libcsv at a time */

typedef struct {
    size_t line;               /* physical line where the record starts */
    size_t n;                  /* fields used */
    char *f[CDS_CSV_MAX_FIELDS]; /* NUL-terminated fields, owned */
} record_t;

struct cds_csv {
    FILE *fp;                  /* input; NULL for an empty buffer */
    bool owns_fp;              /* fclose at destroy */
    char *name;                /* path or caller's name, for messages */
    struct csv_parser parser;  /* libcsv state */
    bool parser_ok;            /* csv_init succeeded */
    size_t line;               /* physical line being fed (1-based) */
    bool first_chunk;          /* BOM not yet checked */
    bool rec_open;             /* a record is being gathered */
    record_t *building;        /* the record being gathered */
    record_t **ready;          /* completed records, FIFO */
    size_t nready, ready_pos, ready_cap; /* queue fill, head, capacity */
    record_t *cur;             /* current record (after next) */
    char **header;             /* column names, owned */
    size_t ncols;              /* header columns; 0 before the header */
    bool eof;                  /* input exhausted and libcsv finished */
    bool failed;               /* a previous call failed: stay failed */
    char problem[384];         /* first problem seen by a callback */
    size_t problem_line;       /* line of that problem */
};

static void
record_free(record_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->f[i]);
    free(r);
}

static void
set_problem(cds_csv_t *self, size_t line, const char *msg)
{
    if (self->problem[0])
        return;                /* keep the first, it is the cause */
    snprintf(self->problem, sizeof self->problem, "%s", msg);
    self->problem_line = line;
}

/* Called by libcsv once per field: s holds len bytes plus a NUL. */
static void
on_field(void *s, size_t len, void *data)
{
    cds_csv_t *self = data;
    if (self->problem[0])
        return;
    self->rec_open = true;     /* also a record after a bare CR */
    record_t *r = self->building;
    if (!r) {
        r = self->building = calloc(1, sizeof *r);
        if (!r) {
            set_problem(self, self->line, "out of memory");
            return;
        }
        r->line = self->line;
    }
    if (len > CDS_CSV_MAX_FIELD) {
        set_problem(self, self->line, "field longer than 65536 bytes");
        return;
    }
    if (r->n == CDS_CSV_MAX_FIELDS) {
        set_problem(self, r->line, "more than 64 fields in one record");
        return;
    }
    if (len > 0 && memchr(s, '\0', len)) {
        set_problem(self, self->line, "NUL byte in a field");
        return;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        set_problem(self, self->line, "out of memory");
        return;
    }
    if (len > 0)
        memcpy(copy, s, len);
    copy[len] = '\0';
    r->f[r->n++] = copy;
}

/* Called by libcsv at the end of each record. */
static void
on_record(int term, void *data)
{
    cds_csv_t *self = data;
    (void) term;               /* CR or LF: both end a record */
    record_t *r = self->building;
    self->building = NULL;
    self->rec_open = false;
    if (!r || self->problem[0]) {
        record_free(r);
        return;
    }
    if (self->nready == self->ready_cap) {
        size_t cap = self->ready_cap ? self->ready_cap * 2 : 8;
        record_t **q = realloc(self->ready, cap * sizeof *q);
        if (!q) {
            record_free(r);
            set_problem(self, self->line, "out of memory");
            return;
        }
        self->ready = q;
        self->ready_cap = cap;
    }
    self->ready[self->nready++] = r;
}

/* Keep leading and trailing spaces: a field is what is between commas. */
static int
no_space(unsigned char c)
{
    (void) c;
    return 0;
}

static cds_csv_t *
reader_new(FILE *fp, bool owns_fp, const char *name)
{
    cds_csv_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->name = strdup(name ? name : "-");
    if (!self->name
        || csv_init(&self->parser, CSV_STRICT | CSV_STRICT_FINI
                                       | CSV_APPEND_NULL) != 0) {
        free(self->name);
        free(self);
        return NULL;
    }
    self->parser_ok = true;
    csv_set_space_func(&self->parser, no_space);
    self->fp = fp;
    self->owns_fp = owns_fp;
    self->line = 1;
    self->first_chunk = true;
    self->eof = (fp == NULL);
    return self;
}

cds_csv_t *
cds_csv_open(const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    cds_csv_t *self = reader_new(fp, true, path);
    if (!self) {
        fclose(fp);
        snprintf(err, errlen, "%s: out of memory", path);
    }
    return self;
}

cds_csv_t *
cds_csv_open_stream(FILE *fp, const char *name)
{
    return reader_new(fp, false, name);
}

cds_csv_t *
cds_csv_open_mem(const void *data, size_t len, const char *name,
                 char *err, size_t errlen)
{
    FILE *fp = NULL;
    if (len > 0) {             /* fmemopen refuses size 0 on some libcs */
        fp = fmemopen((void *) data, len, "rb");
        if (!fp) {
            snprintf(err, errlen, "%s: %s", name, strerror(errno));
            return NULL;
        }
    }
    cds_csv_t *self = reader_new(fp, fp != NULL, name);
    if (!self) {
        if (fp)
            fclose(fp);
        snprintf(err, errlen, "%s: out of memory", name);
    }
    return self;
}

void
cds_csv_destroy(cds_csv_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cds_csv_t *self = *self_p;
    if (self->parser_ok)
        csv_free(&self->parser);
    if (self->owns_fp && self->fp)
        fclose(self->fp);
    record_free(self->building);
    record_free(self->cur);
    for (size_t i = self->ready_pos; i < self->nready; i++)
        record_free(self->ready[i]);
    free(self->ready);
    for (size_t i = 0; i < self->ncols; i++)
        free(self->header[i]);
    free(self->header);
    free(self->name);
    free(self);
    *self_p = NULL;
}

/* Read up to and including the next LF, at most CHUNK bytes. getc rather
 * than getline: memory stays bounded and NUL bytes keep their length. */
static size_t
read_chunk(FILE *fp, char *buf)
{
    size_t n = 0;
    int c;
    while (n < CHUNK && (c = getc(fp)) != EOF) {
        buf[n++] = (char) c;
        if (c == '\n')
            break;
    }
    return n;
}

/* Line ends only: libcsv ignores them between records, and so do we, so
 * that the next record's start line is not taken from a blank line. */
static bool
blank(const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != '\r' && buf[i] != '\n')
            return false;
    return true;
}

/* Feed one chunk, or finish at end of input. 0 ok, -1 with a problem. */
static int
feed_more(cds_csv_t *self)
{
    char buf[CHUNK];
    size_t n = read_chunk(self->fp, buf);
    if (n == 0) {
        if (ferror(self->fp)) {
            set_problem(self, self->line, strerror(errno));
            return -1;
        }
        self->eof = true;
        if (csv_fini(&self->parser, on_field, on_record, self) != 0) {
            set_problem(self, self->building ? self->building->line
                                             : self->line,
                        "quoted field not closed before end of file");
            return -1;
        }
        return self->problem[0] ? -1 : 0;
    }
    const char *p = buf;
    if (self->first_chunk) {
        self->first_chunk = false;
        if (n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
            p += 3;
            n -= 3;
        }
    }
    bool ends_line = (n > 0 && p[n - 1] == '\n');
    if (!self->rec_open && blank(p, n)) {
        self->line += ends_line;
        return 0;
    }
    if (!self->rec_open) {
        self->rec_open = true;
        self->building = calloc(1, sizeof *self->building);
        if (!self->building) {
            set_problem(self, self->line, "out of memory");
            return -1;
        }
        self->building->line = self->line;
    }
    if (csv_parse(&self->parser, p, n, on_field, on_record, self) != n) {
        int e = csv_error(&self->parser);
        set_problem(self, self->line,
                    e == CSV_EPARSE
                        ? "malformed quoting (a quote inside an unquoted "
                          "field, or text after a closing quote)"
                        : csv_strerror(e));
        return -1;
    }
    if (self->parser.entry_pos > CDS_CSV_MAX_FIELD)
        set_problem(self, self->line, "field longer than 65536 bytes");
    if (ends_line)
        self->line++;
    return self->problem[0] ? -1 : 0;
}

static int
fail(cds_csv_t *self, char *err, size_t errlen)
{
    self->failed = true;
    snprintf(err, errlen, "%s:%zu: %s", self->name, self->problem_line,
             self->problem);
    return -1;
}

int
cds_csv_next(cds_csv_t *self, char *err, size_t errlen)
{
    if (self->failed) {
        snprintf(err, errlen, "%s:%zu: %s", self->name, self->problem_line,
                 self->problem[0] ? self->problem : "reader failed");
        return -1;
    }
    record_free(self->cur);
    self->cur = NULL;
    while (self->ready_pos == self->nready) {
        self->ready_pos = self->nready = 0;
        if (self->eof)
            return 0;
        if (feed_more(self) < 0)
            return fail(self, err, errlen);
    }
    self->cur = self->ready[self->ready_pos++];
    if (self->ncols > 0 && self->cur->n != self->ncols) {
        char msg[96];
        snprintf(msg, sizeof msg, "%zu fields, but the header has %zu",
                 self->cur->n, self->ncols);
        set_problem(self, self->cur->line, msg);
        return fail(self, err, errlen);
    }
    return 1;
}

int
cds_csv_read_header(cds_csv_t *self, char *err, size_t errlen)
{
    int rc = cds_csv_next(self, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        set_problem(self, 1, "empty file: a header row is required");
        return fail(self, err, errlen);
    }
    record_t *r = self->cur;
    for (size_t i = 0; i < r->n; i++) {
        const char *problem = NULL;
        char msg[128], shown[300];
        if (!r->f[i][0])
            problem = "empty column name in the header";
        for (size_t j = 0; j < i && !problem; j++)
            if (strcasecmp(r->f[i], r->f[j]) == 0)
                problem = "duplicate column name in the header";
        if (problem) {
            snprintf(msg, sizeof msg, "%s (column %zu \"%s\")", problem,
                     i + 1, cds_csv_show(r->f[i], shown, sizeof shown));
            set_problem(self, r->line, msg);
            return fail(self, err, errlen);
        }
    }
    self->header = calloc(r->n, sizeof *self->header);
    if (!self->header) {
        set_problem(self, r->line, "out of memory");
        return fail(self, err, errlen);
    }
    for (size_t i = 0; i < r->n; i++) {    /* take the strings over */
        self->header[i] = r->f[i];
        r->f[i] = NULL;
    }
    self->ncols = r->n;
    r->n = 0;
    return 0;
}

int
cds_csv_column(const cds_csv_t *self, const char *name)
{
    for (size_t i = 0; i < self->ncols; i++)
        if (strcasecmp(self->header[i], name) == 0)
            return (int) i;
    return -1;
}

size_t
cds_csv_columns(const cds_csv_t *self)
{
    return self->ncols;
}

size_t
cds_csv_count(const cds_csv_t *self)
{
    return self->cur ? self->cur->n : 0;
}

const char *
cds_csv_field(const cds_csv_t *self, size_t i)
{
    if (!self->cur || i >= self->cur->n)
        return NULL;
    return self->cur->f[i];
}

const char *
cds_csv_get(const cds_csv_t *self, int col)
{
    if (col < 0)
        return "";
    const char *f = cds_csv_field(self, (size_t) col);
    return f ? f : "";
}

size_t
cds_csv_line(const cds_csv_t *self)
{
    return self->cur ? self->cur->line : 0;
}

const char *
cds_csv_name(const cds_csv_t *self)
{
    return self->name;
}

/* Printable copy of untrusted s for a message: at most 64 bytes, control
 * bytes, quotes, backslashes (and every byte >= 0x80 unless s is valid
 * UTF-8) as \xNN; "..." when cut. Returns buf. */
const char *
cds_csv_show(const char *s, char *buf, size_t len)
{
    size_t slen = strlen(s), o = 0, i = 0;
    bool utf8 = cds_utf8_valid(s, slen);
    for (; i < slen && i < 64 && o + 5 < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\'
            || (c >= 0x80 && !utf8))
            o += (size_t) snprintf(buf + o, len - o, "\\x%02X", c);
        else
            buf[o++] = (char) c;
    }
    if (i < slen) {
        while (utf8 && o > 0 && ((unsigned char) buf[o - 1] & 0xC0) == 0x80)
            o--;                  /* do not cut a character in half */
        if (utf8 && o > 0 && (unsigned char) buf[o - 1] >= 0xC0)
            o--;
        if (o + 4 <= len)
            o += (size_t) snprintf(buf + o, len - o, "...");
    }
    buf[o < len ? o : len - 1] = '\0';
    return buf;
}


int
cds_csv_error(char *err, size_t errlen, const char *name, size_t line,
              const char *column, const char *problem, const char *value)
{
    char shown[340];
    if (value)
        snprintf(err, errlen, "%s:%zu: %s: %s (value \"%s\")", name, line,
                 column, problem, cds_csv_show(value, shown, sizeof shown));
    else
        snprintf(err, errlen, "%s:%zu: %s: %s", name, line, column, problem);
    return -1;
}
