/*  official: the official report of an org unit for a period, in the
 *  Vietnamese administrative form (Nghị định 30/2020/NĐ-CP layout): the
 *  issuing unit and number on the left, the national heading "CỘNG HÒA XÃ
 *  HỘI CHỦ NGHĨA VIỆT NAM / Độc lập - Tự do - Hạnh phúc" on the right, the
 *  place and date "…, ngày … tháng … năm …", the title ("BÁO CÁO" and
 *  "Kết quả chuyển đổi số Quý 2 năm 2025"), the table, notes on
 *  completeness, the signature block.
 *
 *  The table: one row per direct child of the unit valid in the period
 *  (the unit itself when it has none), by code, shown by name; one column
 *  per indicator, headed by its Vietnamese name and unit; then the total
 *  row. Every figure is rollup_compute's (rollup.h) for that row's unit:
 *  the total row is the rollup of the asked unit, not a sum of the rows
 *  (a ratio or a stock is not additive), so it equals `rollup` exactly.
 *
 *  Formats: xlsx (libxlsxwriter: numbers stored as numbers with number
 *  formats, so a Vietnamese Excel shows 31.141 and 86,14 %; frozen header;
 *  A4 landscape, header rows repeated on every printed page, one page
 *  wide) and csv (the table only, one header row, figures as `rollup`
 *  prints them, optional UTF-8 BOM). Reads only. */
#ifndef AGG_OFFICIAL_H
#define AGG_OFFICIAL_H

#include "cds_catalog.h"
#include "rollup.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    OFFICIAL_XLSX = 0,
    OFFICIAL_CSV = 1,
} official_format_t;

typedef struct {
    const char *org_unit;              /* required */
    const char *period;                /* required, DHIS2 id */
    const char *const *indicators;     /* NULL/0: rollup's default set */
    size_t n_indicators;
    official_format_t format;
    bool bom;                          /* csv: UTF-8 BOM first */
    /* The heading; NULL: the default in brackets. */
    const char *issuer;                /* issuing unit [the unit's name] */
    const char *number;                /* "Số: …" [Số:      /BC] */
    const char *place;                 /* place of the date [unit's name] */
    const char *date;                  /* YYYY-MM-DD [today, UTC+7] */
    const char *title;                 /* [Kết quả chuyển đổi số] */
    const char *signer;                /* name under the signature [blank] */
    const char *signer_title;          /* [THỦ TRƯỞNG ĐƠN VỊ] */
    uint64_t now_ms;                   /* clock for the default date */
} official_opts_t;

/* "xlsx" | "csv". 0, or -1 when name is neither. */
int official_format_parse(const char *name, official_format_t *out);

/* Compute the report and write it to path (created or truncated; the
 * caller makes it a temporary file and publishes it). CDS_OK;
 * CDS_EUSAGE (bad --date), CDS_EBADPERIOD, CDS_EUNKNOWNORGUNIT,
 * CDS_EUNKNOWNINDICATOR with a message in err; CDS_EIO when the file
 * cannot be written; or a database error. */
int official_write(store_t *store, const cds_catalog_t *catalog,
                   const rollup_rules_t *rules, const official_opts_t *opts,
                   const char *path, char *err, size_t errlen);

#endif
