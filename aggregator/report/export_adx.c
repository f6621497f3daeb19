/*  export_adx: collect, sort, write. See export_adx.h. */
#include "export_adx.h"

#include "cds_adx.h"
#include "cds_err.h"
#include "cds_period.h"
#include "cds_util.h"

#include <libxml/xmlwriter.h>
#include <stdlib.h>
#include <string.h>

enum { F_DS, F_OU, F_PE, F_DE, F_COC, F_VALUE, F_COMMENT, F__COUNT };

typedef struct {
    char *f[F__COUNT];                 /* F_PE in ADX form; F_COMMENT may
                                        * be NULL */
} adx_row_t;

struct export_adx {
    const cds_datasets_t *datasets;
    const cds_catalog_t *catalog;
    adx_row_t *rows;
    size_t n, cap;
    char last_de[64];                  /* memo of the last data set found */
    cds_period_type_t last_type;
    const char *last_ds;
};

export_adx_t *
export_adx_new(const cds_datasets_t *datasets, const cds_catalog_t *catalog)
{
    export_adx_t *self = calloc(1, sizeof *self);
    if (self) {
        self->datasets = datasets;
        self->catalog = catalog;
    }
    return self;
}

void
export_adx_destroy(export_adx_t **self_p)
{
    export_adx_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    for (size_t i = 0; i < self->n; i++)
        for (int j = 0; j < F__COUNT; j++)
            free(self->rows[i].f[j]);
    free(self->rows);
    free(self);
    *self_p = NULL;
}

/* The first data set holding de with period type t; the type's name when
 * none does (export_adx.h). */
static const char *
data_set_of(export_adx_t *self, const char *de, cds_period_type_t t)
{
    if (self->last_ds && self->last_type == t
        && strcmp(self->last_de, de) == 0)
        return self->last_ds;
    const char *found = cds_period_type_name(t);
    size_t nsets = self->datasets ? cds_datasets_size(self->datasets) : 0;
    for (size_t i = 0; i < nsets && found == cds_period_type_name(t); i++) {
        const char *code = cds_datasets_code(self->datasets, i);
        cds_period_type_t st;
        size_t n = 0;
        const char *const *inds = cds_datasets_indicators(self->datasets,
                                                          code, &n, &st);
        for (size_t j = 0; st == t && j < n; j++)
            if (strcmp(inds[j], de) == 0) {
                found = code;
                break;
            }
    }
    snprintf(self->last_de, sizeof self->last_de, "%s", de);
    self->last_type = t;
    self->last_ds = found;
    return found;
}

int
export_adx_add(export_adx_t *self, const char *ou, const char *de,
               const char *pe, const char *coc, const char *value,
               const char *comment, char *err, size_t errlen)
{
    char adxpe[CDS_ADX_PERIOD_LEN];
    cds_period_t p;
    if (cds_period_parse(pe, &p) != CDS_OK
        || cds_adx_period_format(pe, adxpe, sizeof adxpe) != CDS_OK) {
        snprintf(err, errlen, "period \"%.20s\" of %.64s/%.64s has no ADX "
                 "form", pe, ou, de);
        return CDS_EBADPERIOD;
    }
    if (self->n == self->cap) {
        size_t ncap = self->cap ? self->cap * 2 : 256;
        adx_row_t *grown = realloc(self->rows, ncap * sizeof *grown);
        if (!grown)
            return CDS_ENOMEM;
        self->rows = grown;
        self->cap = ncap;
    }
    adx_row_t *r = &self->rows[self->n];
    /* a text value travels as the annotation, "0" the placeholder value
     * (cds_adx_resolve); its comment has no place left */
    int text = self->catalog
               && cds_adx_text_valued(cds_catalog_find(self->catalog, de));
    const char *src[F__COUNT] = { data_set_of(self, de, p.type), ou, adxpe,
                                  de, coc && *coc ? coc : "default",
                                  text ? "0" : value,
                                  text ? value
                                  : comment && *comment ? comment : NULL };
    int rc = CDS_OK;
    for (int j = 0; j < F__COUNT; j++)
        if (!(r->f[j] = src[j] ? strdup(src[j]) : NULL) && src[j])
            rc = CDS_ENOMEM;
    self->n++;                         /* freed by destroy either way */
    return rc;
}

static int
row_cmp(const void *a, const void *b)
{
    const adx_row_t *x = a, *y = b;
    for (int j = F_DS; j <= F_COC; j++) {
        int c = strcmp(x->f[j], y->f[j]);
        if (c)
            return c;
    }
    return 0;
}

static int
same_group(const adx_row_t *x, const adx_row_t *y)
{
    return strcmp(x->f[F_DS], y->f[F_DS]) == 0
           && strcmp(x->f[F_OU], y->f[F_OU]) == 0
           && strcmp(x->f[F_PE], y->f[F_PE]) == 0;
}

#define X(s) ((const xmlChar *) (s))

/* One <dataValue>; libxml2 calls return < 0 on failure. */
static int
write_value(xmlTextWriterPtr w, const adx_row_t *r)
{
    int bad = xmlTextWriterStartElement(w, X("dataValue")) < 0
              || xmlTextWriterWriteAttribute(w, X("dataElement"),
                                             X(r->f[F_DE])) < 0;
    if (!bad && strcmp(r->f[F_COC], "default") != 0)
        bad = xmlTextWriterWriteAttribute(w, X("categoryOptionCombo"),
                                          X(r->f[F_COC])) < 0;
    bad = bad || xmlTextWriterWriteAttribute(w, X("value"),
                                             X(r->f[F_VALUE])) < 0;
    if (!bad && r->f[F_COMMENT])
        bad = xmlTextWriterWriteElement(w, X("annotation"),
                                        X(r->f[F_COMMENT])) < 0;
    return bad || xmlTextWriterEndElement(w) < 0 ? -1 : 0;
}

static int
write_groups(export_adx_t *self, xmlTextWriterPtr w)
{
    for (size_t i = 0; i < self->n; i++) {
        const adx_row_t *r = &self->rows[i];
        if (i == 0 || !same_group(&self->rows[i - 1], r)) {
            if ((i > 0 && xmlTextWriterEndElement(w) < 0)
                || xmlTextWriterStartElement(w, X("group")) < 0
                || xmlTextWriterWriteAttribute(w, X("dataSet"),
                                               X(r->f[F_DS])) < 0
                || xmlTextWriterWriteAttribute(w, X("orgUnit"),
                                               X(r->f[F_OU])) < 0
                || xmlTextWriterWriteAttribute(w, X("period"),
                                               X(r->f[F_PE])) < 0)
                return -1;
        }
        if (write_value(w, r) < 0)
            return -1;
    }
    return self->n && xmlTextWriterEndElement(w) < 0 ? -1 : 0;
}

int
export_adx_write(export_adx_t *self, FILE *out, unsigned long long now_ms)
{
    char exported[40];
    if (self->n > 1)
        qsort(self->rows, self->n, sizeof *self->rows, row_cmp);
    cds_format_time(exported, sizeof exported, (uint64_t) now_ms);
    xmlOutputBufferPtr buf = xmlOutputBufferCreateFile(out, NULL);
    xmlTextWriterPtr w = buf ? xmlNewTextWriter(buf) : NULL;
    if (!w) {
        if (buf)
            xmlOutputBufferClose(buf);
        return CDS_ENOMEM;
    }
    int bad = xmlTextWriterSetIndent(w, 1) < 0
              || xmlTextWriterSetIndentString(w, X("  ")) < 0
              || xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0
              || xmlTextWriterStartElementNS(w, NULL, X("adx"),
                                             X(CDS_ADX_NS)) < 0
              || xmlTextWriterWriteAttribute(w, X("exported"),
                                             X(exported)) < 0
              || write_groups(self, w) < 0
              || xmlTextWriterEndDocument(w) < 0;
    xmlFreeTextWriter(w);              /* flushes; out stays open */
    return bad || fflush(out) != 0 ? CDS_EIO : CDS_OK;
}
