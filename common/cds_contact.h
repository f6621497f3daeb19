/*  cds_contact: whom to call about a unit's report (issue 16: "who has not
 *  reported and how to reach them"). `completeness`, /api/completeness and
 *  the dashboard's Tiến độ báo cáo view show the contact of every unit
 *  that still owes values for the period.
 *
 *  File (deploy/contacts.csv beside the catalog; config key
 *  aggregator.contacts; UTF-8 CSV, optional BOM, header row, columns by
 *  name, order free, unknown columns ignored):
 *      org_unit   unit code                                    (required)
 *      name       the person, e.g. "Nguyễn Thị Thu Hà"          (required)
 *      title      their post, e.g. "Công chức Văn phòng - Thống kê"
 *      phone      digits with optional leading +, spaces, dots, dashes
 *                 and parentheses; 8 to 15 digits
 *      email      local@domain, the domain with a dot, no spaces
 *  At least one of phone and email. One row per org_unit. A unit the
 *  org-unit list does not hold is refused (when the loader is given it).
 *  Text fields are valid UTF-8 of at most 200 bytes without control
 *  characters.
 *
 *  Invariant: a loaded table holds at most one row per unit, each with a
 *  name and a phone or an e-mail address that passed the checks above. */
#ifndef CDS_CONTACT_H
#define CDS_CONTACT_H

#include "cds_orgunit.h"
#include <stddef.h>

typedef struct {
    char *org_unit;            /* unit code */
    char *name;                /* the person */
    char *title;               /* "" when not given */
    char *phone;               /* as written; "" when not given */
    char *email;               /* "" when not given */
    size_t line;               /* line in the file */
} cds_contact_t;

typedef struct cds_contacts cds_contacts_t;

/* Load and check path; ous (may be NULL: not checked) names the units a
 * row may use. NULL on failure with "path:line: column: problem" in err. */
cds_contacts_t *cds_contacts_load(const char *path, const cds_orgunits_t *ous,
                                  char *err, size_t errlen);
/* As cds_contacts_load, printing every problem to out (FILE *) as one
 * "path:line: column: problem" line instead of stopping at the first
 * (--check-config). The number of problems; 0: the file loads. */
size_t cds_contacts_check(const char *path, const cds_orgunits_t *ous,
                          void *out);
/* Free; sets *self_p to NULL. Safe on NULL. */
void cds_contacts_destroy(cds_contacts_t **self_p);
/* Rows in file order (borrowed). */
size_t cds_contacts_size(const cds_contacts_t *self);
const cds_contact_t *cds_contacts_at(const cds_contacts_t *self, size_t i);
/* The row of unit, or NULL (also when self is NULL). */
const cds_contact_t *cds_contacts_find(const cds_contacts_t *self,
                                       const char *unit);

#endif
