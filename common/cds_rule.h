/*  cds_rule: data-quality rules in DHIS2's validation-rule form, and the
 *  small arithmetic expressions their two sides are written in.
 *
 *  File (deploy/rules.csv, beside the catalog): UTF-8 CSV (optional BOM),
 *  header row, columns by name (order free, unknown columns ignored):
 *      code        ASCII [A-Z0-9_], unique, <= 64 bytes        (required)
 *      name_vi     Vietnamese description shown with a violation (required)
 *      left        expression                                 (required)
 *      operator    == != > >= < <= compulsory_pair exclusive_pair (required)
 *      right       expression                                 (required)
 *      severity    error | warning (empty: error)
 *      importance  high | medium | low (empty: medium)
 *
 *  Expressions: numbers (123, 1.5, 1e3), indicator codes, + - * / with the
 *  usual precedence, unary minus and parentheses. An indicator is written
 *  bare (HGD_TONG) or in DHIS2's form #{HGD_TONG}, so a rule copied from
 *  DHIS2 with codes for uids reads unchanged. At most CDS_EXPR_MAX_NODES
 *  nodes and CDS_EXPR_MAX_DEPTH nesting: an expression is bounded.
 *
 *  Evaluation (DHIS2's missing-value strategy SKIP_IF_ANY_VALUE_MISSING):
 *  a side with an indicator that has no value is missing; a division by
 *  zero makes the side missing too (a ratio of nothing is not a
 *  violation). For == != > >= < <= a rule with a missing side is skipped;
 *  == and != compare with a tolerance of 1e-9 of the larger magnitude.
 *  compulsory_pair: both sides present or both missing, else violated;
 *  exclusive_pair: violated when both sides are present. */
#ifndef CDS_RULE_H
#define CDS_RULE_H

#include "cds_catalog.h"
#include <stdbool.h>
#include <stddef.h>

#define CDS_EXPR_MAX_NODES 256
#define CDS_EXPR_MAX_DEPTH 32
#define CDS_EXPR_MAX_TEXT 4096

typedef struct cds_expr cds_expr_t;

/* Parse text. NULL with "column N: problem" in err (column 1-based, in
 * bytes) when the text is not an expression or over a bound. */
cds_expr_t *cds_expr_parse(const char *text, char *err, size_t errlen);
void cds_expr_destroy(cds_expr_t **self_p);
/* Distinct indicator codes the expression names, in first-use order. */
size_t cds_expr_ncodes(const cds_expr_t *self);
const char *cds_expr_code(const cds_expr_t *self, size_t i);

/* The value of an indicator: true and *out set, or false (no value). */
typedef bool (*cds_rule_lookup_fn)(void *ctx, const char *code, double *out);

/* Evaluate. true with *out, or false when a value is missing or a
 * division by zero (or a non-finite result) happened. */
bool cds_expr_eval(const cds_expr_t *self, cds_rule_lookup_fn look,
                   void *ctx, double *out);

typedef enum {
    CDS_ROP_EQ, CDS_ROP_NE, CDS_ROP_GT, CDS_ROP_GE, CDS_ROP_LT, CDS_ROP_LE,
    CDS_ROP_COMPULSORY_PAIR, CDS_ROP_EXCLUSIVE_PAIR,
} cds_rule_op_t;

typedef enum { CDS_RSEV_ERROR, CDS_RSEV_WARNING } cds_rule_severity_t;

typedef struct {
    char *code;                /* rule code */
    char *name_vi;             /* description */
    char *left_text, *right_text; /* the sides as written */
    cds_expr_t *left, *right;  /* parsed */
    cds_rule_op_t op;
    cds_rule_severity_t severity;
    const char *importance;    /* static: "high" | "medium" | "low" */
    size_t line;               /* line in the file */
} cds_rule_t;

typedef enum {
    CDS_RULE_PASS, CDS_RULE_FAIL, CDS_RULE_SKIP,
} cds_rule_outcome_t;

typedef struct cds_rules cds_rules_t;

/* Load a rules file. catalog (may be NULL) checks that every code a rule
 * names is a catalog indicator with a numeric type (not TEXT). NULL with
 * "path:line: column: problem" in err. */
cds_rules_t *cds_rules_load(const char *path, const cds_catalog_t *catalog,
                            char *err, size_t errlen);
/* As cds_rules_load, every problem printed to out (FILE *), one line each
 * (--check-config). The number of problems; 0: the file loads. */
size_t cds_rules_check(const char *path, const cds_catalog_t *catalog,
                       void *out);
void cds_rules_destroy(cds_rules_t **self_p);
size_t cds_rules_size(const cds_rules_t *self);
const cds_rule_t *cds_rules_at(const cds_rules_t *self, size_t i);

/* Evaluate one rule; *l, *r (may be NULL) get the sides' values, NAN
 * when missing. */
cds_rule_outcome_t cds_rule_eval(const cds_rule_t *rule,
                                 cds_rule_lookup_fn look, void *ctx,
                                 double *l, double *r);
/* true when every code the rule names satisfies has(ctx, code): the agent
 * checks at entry only rules over values it holds itself. */
bool cds_rule_codes_all(const cds_rule_t *rule,
                        bool (*has)(void *ctx, const char *code), void *ctx);
/* Where a program's rules file is: configured (the program's *.rules key)
 * when non-empty (*explicit true: a missing file is an error), else
 * rules.csv in the directory of catalog (*explicit false: a missing file
 * means no rules). CDS_OK, or CDS_ETOOBIG/CDS_ENOMEM. */
int cds_rules_path(const char *configured, const char *catalog, char *buf,
                   size_t len, bool *explicit);
const char *cds_rule_op_name(cds_rule_op_t op);
const char *cds_rule_severity_name(cds_rule_severity_t s);

#endif
