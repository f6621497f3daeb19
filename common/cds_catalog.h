/*  cds_catalog: the indicator catalog and value validation.
 *
 *  File: UTF-8 CSV (optional BOM), header row required, columns by name
 *  (order free, unknown columns ignored):
 *      code        ASCII [A-Z0-9_], unique, <= 64 bytes        (required)
 *      name_vi     Vietnamese name                            (required)
 *      name_en     English name
 *      unit        "%", "count", "yes/no", ...
 *      value_type  INTEGER | NUMBER | PERCENTAGE | BOOLEAN | TEXT (required)
 *      aggregation SUM | AVERAGE | MIN | MAX | NONE | COUNT_TRUE | RATIO
 *      period_type Yearly | Quarterly | Monthly | ... (cds_period_type_parse)
 *                  empty: any period type accepted
 *      min, max    optional numeric bounds (PERCENTAGE is always 0..100)
 *      numerator, denominator   codes of two INTEGER indicators (RATIO)
 *                  A RATIO naming both is *derived*: an entered value for
 *                  it is ignored (rollup, rules and `validate` use the
 *                  counts; docs/ADMIN.md "Data-quality rules").
 *      source      free text
 *  The catalog version is the lowercase hex of the first 16 bytes of the
 *  BLAKE2b-256 of the file bytes: every batch names it.
 *
 *  Canonical values (what is queued, signed, hashed and stored):
 *      INTEGER     optional '-', no leading zeros, no '+'  ("0", "-12")
 *      NUMBER      shortest "%.*g" text that reads back to the same double
 *      PERCENTAGE  as NUMBER, 0 <= v <= 100
 *      BOOLEAN     "true" | "false" (input also: t/f, 1/0, yes/no, co/khong,
 *                  "có"/"không", "đạt"/"không đạt", case-insensitive ASCII)
 *      TEXT        as given; valid UTF-8, no control characters */
#ifndef CDS_CATALOG_H
#define CDS_CATALOG_H

#include "cds_period.h"
#include "cds_update.h"
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    CDS_VT_INTEGER = 0,
    CDS_VT_NUMBER = 1,
    CDS_VT_PERCENTAGE = 2,
    CDS_VT_BOOLEAN = 3,
    CDS_VT_TEXT = 4,
} cds_value_type_t;

typedef enum {
    CDS_AGG_NONE = 0,
    CDS_AGG_SUM = 1,
    CDS_AGG_AVERAGE = 2,
    CDS_AGG_MIN = 3,
    CDS_AGG_MAX = 4,
    CDS_AGG_COUNT_TRUE = 5,
    CDS_AGG_RATIO = 6,
} cds_agg_t;

typedef struct {
    char *code;                /* unique indicator code */
    char *name_vi;             /* Vietnamese name */
    char *name_en;             /* English name ("" if none) */
    char *unit;                /* unit label ("" if none) */
    cds_value_type_t type;     /* value type */
    cds_agg_t agg;             /* aggregation upward */
    bool has_period_type;      /* false: any period type accepted */
    cds_period_type_t period_type; /* required period type */
    bool has_min, has_max;     /* bounds present */
    double min, max;           /* inclusive bounds */
    char *numerator;           /* RATIO: numerator indicator code, else NULL */
    char *denominator;         /* RATIO: denominator indicator code */
} cds_indicator_t;

typedef struct cds_catalog cds_catalog_t;

/* Load and check a catalog file. NULL on failure with "path:line: field:
 * problem" in err. */
cds_catalog_t *cds_catalog_load(const char *path, char *err, size_t errlen);
/* cds_catalog_load of the file's bytes held in memory (data, len; a
 * published metadata version's catalog.csv), name standing for the path
 * in messages. The version is the same as the file's. */
cds_catalog_t *cds_catalog_parse(const char *name, const char *data,
                                 size_t len, char *err, size_t errlen);
/* Check a catalog file as cds_catalog_load would load it, but print
 * every problem to out (FILE *), one "path:line: column: problem" line
 * each, instead of stopping at the first bad row (--check-config). The
 * number of problems; 0: the file loads. */
size_t cds_catalog_check(const char *path, void *out);
/* Free; sets *self_p to NULL. Safe on NULL. */
void cds_catalog_destroy(cds_catalog_t **self_p);
/* Version string (32 hex chars). Borrowed. */
const char *cds_catalog_version(const cds_catalog_t *self);
/* Number of indicators, and the i-th in file order (borrowed). */
size_t cds_catalog_size(const cds_catalog_t *self);
const cds_indicator_t *cds_catalog_at(const cds_catalog_t *self, size_t i);
/* Indicator by code, or NULL. O(log n). */
const cds_indicator_t *cds_catalog_find(const cds_catalog_t *self,
                                        const char *code);
const char *cds_value_type_name(cds_value_type_t t);
const char *cds_agg_name(cds_agg_t a);

/* Validate value for ind and write its canonical text into canon (at least
 * CDS_MAX_VALUE + 1 bytes) and its number into *num (BOOLEAN: 1/0; TEXT:
 * 0). CDS_OK, CDS_EBADVALUE or CDS_ERANGE with a message in err naming the
 * value and what was expected. */
int cds_value_canonical(const cds_indicator_t *ind, const char *value,
                        char *canon, size_t canon_len, double *num,
                        char *err, size_t errlen);

/* Validate a whole update against the catalog: field bounds and UTF-8
 * (cds_update_check_fields), indicator known, period parses and has the
 * indicator's period type, disagg is "default", value canonical for the
 * type and in bounds (skipped when deleted). Returns CDS_OK or the reason
 * code; *field names the field (static), err says what is wrong. */
int cds_catalog_check_update(const cds_catalog_t *self, const cds_update_t *u,
                             const char **field, char *err, size_t errlen);

#endif
