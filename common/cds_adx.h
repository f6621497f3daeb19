/*  cds_adx: ADX (IHE QRPH Aggregate Data Exchange, the XML form DHIS2
 *  reads and writes at /api/dataValueSets with application/adx+xml),
 *  read with libxml2 and bounded; and ADX period notation.
 *
 *  Document shape (namespace CDS_ADX_NS on every element):
 *      <adx exported="...">                       root; other attributes
 *        <group dataSet= orgUnit= period=         ignored
 *               [completeDate=] [attributeOptionCombo=] [CATEGORY=OPTION...]>
 *          <dataValue dataElement= value=
 *                     [categoryOptionCombo=] [CATEGORY=OPTION...]>
 *            [<annotation>text</annotation>]      cds_adx_resolve
 *          </dataValue>
 *        </group>
 *      </adx>
 *  categoryOptionCombo/attributeOptionCombo are DHIS2's own attributes;
 *  any other attribute of a group or dataValue (not in a namespace) is a
 *  disaggregation, CATEGORY code = OPTION code as DHIS2 writes them. The
 *  reader does not judge them: it hands them on as "CAT=OPT;CAT2=OPT2"
 *  for the caller's catalog to accept or refuse.
 *  Periods are ISO 8601 start/duration as DHIS2's AdxPeriod gives each
 *  period type: 2025Q1 <-> 2025-01-01/P3M, 2025W10 <-> 2025-03-03/P7D,
 *  2025BiW1 <-> 2024-12-30/P14D, 202501B <-> 2025-01-01/P2M, 2025April
 *  <-> 2025-04-01/P1Y. Types sharing a duration are told apart by the
 *  start date; P1W/P2W are read as P7D/P14D.
 *
 *  Hostile input: no DTD is loaded, no entity is substituted, no network
 *  is used (XML_PARSE_NONET); a DOCTYPE or an entity reference anywhere
 *  is refused (so no billion laughs, no external entity); elements deeper
 *  than adx/group/dataValue/annotation, an element of another name or
 *  namespace, text outside an annotation, more than CDS_ADX_MAX_ATTRS
 *  attributes, an attribute or annotation over CDS_ADX_MAX_TEXT bytes,
 *  more than CDS_ADX_MAX_NODES nodes or CDS_ADX_MAX_VALUES values are all
 *  refused with "name:line: problem". The caller bounds the input size.
 *
 *  Invariant: the callback sees every dataValue in document order, with
 *  its group's attributes, before the reader returns; a refused document
 *  may have called it for earlier values, so callers keep what they get
 *  and apply nothing until the reader returned CDS_OK. */
#ifndef CDS_ADX_H
#define CDS_ADX_H

#include "cds_catalog.h"

#include <stddef.h>

#define CDS_ADX_NS "urn:ihe:qrph:adx:2015"
#define CDS_ADX_MAX_ATTRS 32           /* attributes on one element */
#define CDS_ADX_MAX_TEXT 4096          /* bytes of one attribute/annotation */
#define CDS_ADX_MAX_NODES 4000000      /* reader nodes in one document */
#define CDS_ADX_MAX_VALUES 200000      /* dataValues in one document */
#define CDS_ADX_PERIOD_LEN 24          /* "2025-01-01/P14D" and NUL */

/* One dataValue with its group's attributes. Strings are borrowed for the
 * call only; absent optional ones are NULL. */
typedef struct {
    size_t line;                       /* of the <dataValue> tag (where
                                        * the tag ends, as libxml2 counts) */
    size_t group_line;                 /* of its <group> tag (the same) */
    const char *data_set;              /* group dataSet (required) */
    const char *org_unit;              /* group orgUnit (required) */
    const char *period_given;          /* group period as written */
    const char *period;                /* its DHIS2 id; NULL: not an ADX
                                        * period of a supported type */
    const char *complete_date;         /* group completeDate or NULL */
    const char *attr_combo;            /* "default", the group's
                                        * attributeOptionCombo, or its
                                        * "CAT=OPT;..." attributes */
    const char *data_element;
    const char *value;
    const char *disagg;                /* "default", categoryOptionCombo,
                                        * or "CAT=OPT;..." */
    const char *annotation;            /* annotation text or NULL */
} cds_adx_value_t;

/* Called per value; a non-CDS_OK return stops the reader with that code. */
typedef int (cds_adx_value_fn)(const cds_adx_value_t *v, void *arg);

/* Read an ADX document of len bytes (name for messages). CDS_OK;
 * CDS_EMALFORMED (not well-formed XML, not ADX, or refused as above) or
 * CDS_ETOOBIG with "name:line: problem" in err; CDS_ENOMEM; or fn's code. */
int cds_adx_read(const char *name, const char *data, size_t len,
                 cds_adx_value_fn *fn, void *arg, char *err, size_t errlen);

/* DHIS2's rule (its AdxDataService): a data element whose values are not
 * numbers (BOOLEAN, TEXT) carries its value as the annotation's text, the
 * value attribute being a placeholder ("0" when DHIS2 or cdsync writes
 * it); a number is the value attribute, and its annotation, which DHIS2
 * ignores, is cdsync's comment. Sets *value and *comment (borrowed from
 * v; *comment may be NULL). ind NULL (unknown indicator): the number
 * rule. Returns 0, or -1 when a text-valued element has no annotation. */
int cds_adx_resolve(const cds_adx_value_t *v, const cds_indicator_t *ind,
                    const char **value, const char **comment);
/* True when ind's values travel in the annotation (BOOLEAN, TEXT). */
int cds_adx_text_valued(const cds_indicator_t *ind);

/* True when data (after an optional BOM and white space) starts like XML
 * ('<'): how the import commands tell ADX from CSV and JSON. */
int cds_adx_sniff(const char *data, size_t len);

/* ADX form of a DHIS2 period id ("2025Q1" -> "2025-01-01/P3M") into buf
 * (CDS_ADX_PERIOD_LEN bytes). CDS_OK or CDS_EBADPERIOD. */
int cds_adx_period_format(const char *id, char *buf, size_t len);
/* DHIS2 id of an ADX period ("2025-01-01/P3M" -> "2025Q1") into buf
 * (CDS_PERIOD_ID_LEN bytes). CDS_OK or CDS_EBADPERIOD (no '/', start not
 * on a period boundary of a type with that duration, unknown duration). */
int cds_adx_period_parse(const char *s, char *buf, size_t len);

#endif
