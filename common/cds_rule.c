/*  cds_rule: data-quality rules and their expressions (see cds_rule.h).
 *
 *  Why a hand-written parser: no Debian library evaluates DHIS2
 *  expressions. libmatheval (the nearest) knows bare names and functions
 *  but not the #{code} operand form, has no notion of a missing value
 *  (DHIS2 skips a rule whose operand has none) and would accept
 *  functions and powers a rule file has no use for. The grammar here is
 *  four operators, unary minus, parentheses, numbers and codes:
 *      expr   = term { ("+" | "-") term }
 *      term   = unary { ("*" | "/") unary }
 *      unary  = "-" unary | atom
 *      atom   = number | code | "#{" code "}" | "(" expr ")"
 *  a recursive descent of a few dozen lines, bounded in nodes and depth
 *  (cds_rule.h), into a flat node array evaluated recursively. */
#include "cds_rule.h"

#include "cds_csvload.h"
#include "cds_err.h"
#include "cds_util.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODE_MAX 64

typedef enum { N_NUM, N_VAR, N_NEG, N_ADD, N_SUB, N_MUL, N_DIV } node_kind_t;

typedef struct {
    node_kind_t kind;
    double num;                /* N_NUM */
    int a, b;                  /* operands (node index); N_VAR: a = code */
} node_t;

struct cds_expr {
    node_t node[CDS_EXPR_MAX_NODES];
    int n, root;
    char *code[CDS_EXPR_MAX_NODES]; /* distinct codes, owned */
    int ncodes;
};

typedef struct {
    const char *s, *p;         /* text, cursor */
    cds_expr_t *e;
    int depth;
    char *err;
    size_t errlen;
} parser_t;

static int
fail(parser_t *ps, const char *problem)
{
    snprintf(ps->err, ps->errlen, "column %zu: %s",
             (size_t) (ps->p - ps->s) + 1, problem);
    return -1;
}

static void
skip_space(parser_t *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t')
        ps->p++;
}

static int
add_node(parser_t *ps, node_kind_t kind, double num, int a, int b)
{
    if (ps->e->n >= CDS_EXPR_MAX_NODES)
        return fail(ps, "expression too long");
    ps->e->node[ps->e->n] = (node_t) {kind, num, a, b};
    return ps->e->n++;
}

static int
code_index(parser_t *ps, const char *code, size_t len)
{
    cds_expr_t *e = ps->e;
    for (int i = 0; i < e->ncodes; i++)
        if (strlen(e->code[i]) == len && memcmp(e->code[i], code, len) == 0)
            return i;
    e->code[e->ncodes] = strndup(code, len);
    if (!e->code[e->ncodes])
        return fail(ps, "out of memory");
    return e->ncodes++;
}

static bool
code_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int
parse_code(parser_t *ps, bool braced)
{
    const char *start = ps->p;
    while (code_char(*ps->p))
        ps->p++;
    size_t len = (size_t) (ps->p - start);
    if (len == 0 || len > CODE_MAX) {
        ps->p = start;
        return fail(ps, len ? "indicator code over 64 bytes"
                            : "indicator code expected (A-Z, 0-9, _)");
    }
    if (braced) {
        if (*ps->p != '}')
            return fail(ps, "'}' expected after the indicator code");
        ps->p++;
    }
    int c = code_index(ps, start, len);
    return c < 0 ? -1 : add_node(ps, N_VAR, 0, c, -1);
}

static int
parse_number(parser_t *ps)
{
    char *end;
    errno = 0;
    double v = strtod(ps->p, &end);
    if (end == ps->p || errno == ERANGE || !isfinite(v))
        return fail(ps, "not a number");
    /* strtod also reads "0x..", "inf", "nan": a rule file means decimals */
    for (const char *q = ps->p; q < end; q++)
        if (!isdigit((unsigned char) *q) && !strchr(".eE+-", *q))
            return fail(ps, "not a decimal number");
    ps->p = end;
    return add_node(ps, N_NUM, v, -1, -1);
}

static int parse_expr(parser_t *ps);

static int
parse_atom(parser_t *ps)
{
    skip_space(ps);
    char c = *ps->p;
    if (c == '(') {
        ps->p++;
        int r = parse_expr(ps);
        skip_space(ps);
        if (r < 0)
            return -1;
        if (*ps->p != ')')
            return fail(ps, "')' expected");
        ps->p++;
        return r;
    }
    if (c == '#' && ps->p[1] == '{') {
        ps->p += 2;
        return parse_code(ps, true);
    }
    if (isdigit((unsigned char) c) || c == '.')
        return parse_number(ps);
    if (code_char(c))
        return parse_code(ps, false);
    return fail(ps, c ? "number, indicator code or '(' expected"
                      : "expression ends too early");
}

/* Every '(' and unary '-' passes here once: the depth bound. */
static int
parse_unary(parser_t *ps)
{
    if (++ps->depth > CDS_EXPR_MAX_DEPTH)
        return fail(ps, "expression nested too deeply");
    skip_space(ps);
    int r;
    if (*ps->p == '-') {
        ps->p++;
        int a = parse_unary(ps);
        r = a < 0 ? -1 : add_node(ps, N_NEG, 0, a, -1);
    } else {
        r = parse_atom(ps);
    }
    ps->depth--;
    return r;
}

/* One precedence level: ops[0] and ops[1] map to kinds k0 and k1. */
static int
parse_level(parser_t *ps, int (*next)(parser_t *), const char *ops,
            node_kind_t k0, node_kind_t k1)
{
    int a = next(ps);
    while (a >= 0) {
        skip_space(ps);
        char c = *ps->p;
        if (!c || (c != ops[0] && c != ops[1]))
            break;
        ps->p++;
        int b = next(ps);
        if (b < 0)
            return -1;
        a = add_node(ps, c == ops[0] ? k0 : k1, 0, a, b);
    }
    return a;
}

static int
parse_term(parser_t *ps)
{
    return parse_level(ps, parse_unary, "*/", N_MUL, N_DIV);
}

static int
parse_expr(parser_t *ps)
{
    return parse_level(ps, parse_term, "+-", N_ADD, N_SUB);
}

cds_expr_t *
cds_expr_parse(const char *text, char *err, size_t errlen)
{
    cds_expr_t *e = calloc(1, sizeof *e);
    parser_t ps = {.s = text, .p = text, .e = e, .err = err,
                   .errlen = errlen};
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (strlen(text) > CDS_EXPR_MAX_TEXT) {
        fail(&ps, "expression over 4096 bytes");
        cds_expr_destroy(&e);
        return NULL;
    }
    e->root = parse_expr(&ps);
    skip_space(&ps);
    if (e->root >= 0 && *ps.p)
        e->root = fail(&ps, *ps.p == ')' ? "')' without '('"
                                         : "operator expected");
    if (e->root < 0)
        cds_expr_destroy(&e);
    return e;
}

void
cds_expr_destroy(cds_expr_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int i = 0; i < (*self_p)->ncodes; i++)
        free((*self_p)->code[i]);
    free(*self_p);
    *self_p = NULL;
}

size_t
cds_expr_ncodes(const cds_expr_t *self)
{
    return (size_t) self->ncodes;
}

const char *
cds_expr_code(const cds_expr_t *self, size_t i)
{
    return i < (size_t) self->ncodes ? self->code[i] : NULL;
}

static bool
eval_node(const cds_expr_t *e, int i, cds_rule_lookup_fn look, void *ctx,
          double *out)
{
    const node_t *n = &e->node[i];
    double a, b;
    switch (n->kind) {
    case N_NUM:
        *out = n->num;
        return true;
    case N_VAR:
        return look(ctx, e->code[n->a], out) && isfinite(*out);
    case N_NEG:
        if (!eval_node(e, n->a, look, ctx, &a))
            return false;
        *out = -a;
        return true;
    default:
        break;
    }
    if (!eval_node(e, n->a, look, ctx, &a) || !eval_node(e, n->b, look, ctx, &b))
        return false;
    switch (n->kind) {
    case N_ADD: *out = a + b; break;
    case N_SUB: *out = a - b; break;
    case N_MUL: *out = a * b; break;
    default:
        if (b == 0)
            return false;
        *out = a / b;
    }
    return isfinite(*out);
}

bool
cds_expr_eval(const cds_expr_t *self, cds_rule_lookup_fn look, void *ctx,
              double *out)
{
    return eval_node(self, self->root, look, ctx, out);
}

/* ---- rules ------------------------------------------------------------ */

struct cds_rules {
    cds_rule_t *r;             /* rules in file order, owned */
    size_t n, cap;
};

enum { C_CODE, C_NAME, C_LEFT, C_OP, C_RIGHT, C_SEV, C_IMP, C__COUNT };
static const char *const col_names[C__COUNT] = {
    "code", "name_vi", "left", "operator", "right", "severity",
    "importance",
};
static const char *const op_names[] = {
    "==", "!=", ">", ">=", "<", "<=", "compulsory_pair", "exclusive_pair",
};

typedef cds_csvload_t loader_t;  /* ctx: the catalog, NULL: not checked */

const char *
cds_rule_op_name(cds_rule_op_t op)
{
    return (size_t) op < sizeof op_names / sizeof *op_names ? op_names[op]
                                                              : "?";
}

const char *
cds_rule_severity_name(cds_rule_severity_t s)
{
    return s == CDS_RSEV_WARNING ? "warning" : "error";
}

static int
row_error(loader_t *ld, int col, const char *problem, const char *value)
{
    return cds_csvload_error(ld, cds_csvload_line(ld), col, problem, value);
}

static void
rule_free(cds_rule_t *r)
{
    free(r->code);
    free(r->name_vi);
    free(r->left_text);
    free(r->right_text);
    cds_expr_destroy(&r->left);
    cds_expr_destroy(&r->right);
}

/* Parse one side and check its codes against the catalog. */
static int
parse_side(loader_t *ld, int col, cds_expr_t **out)
{
    const cds_catalog_t *catalog = ld->ctx;
    const char *text = cds_csvload_get(ld, col);
    char msg[256];
    if (!text[0])
        return row_error(ld, col, "empty", NULL);
    *out = cds_expr_parse(text, msg, sizeof msg);
    if (!*out)
        return row_error(ld, col, msg, text);
    for (size_t i = 0; catalog && i < cds_expr_ncodes(*out); i++) {
        const char *code = cds_expr_code(*out, i);
        const cds_indicator_t *ind = cds_catalog_find(catalog, code);
        if (!ind)
            return row_error(ld, col, "names an indicator not in the "
                             "catalog", code);
        if (ind->type == CDS_VT_TEXT)
            return row_error(ld, col, "names a TEXT indicator (no number)",
                             code);
    }
    return 0;
}

static int
parse_enum(loader_t *ld, int col, const char *const *names, size_t n,
           int dflt, int *out)
{
    const char *s = cds_csvload_get(ld, col);
    *out = dflt;
    if (!s[0] && dflt >= 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (int) i;
            return 0;
        }
    return row_error(ld, col, col == C_OP ? "not one of == != > >= < <= "
                     "compulsory_pair exclusive_pair" : col == C_SEV
                     ? "not error or warning" : "not high, medium or low",
                     s);
}

static bool
rule_code_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > CODE_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!code_char(s[i]))
            return false;
    return true;
}

static const char *const sev_names[] = {"error", "warning"};
static const char *const imp_names[] = {"high", "medium", "low"};

static int
parse_row(loader_t *ld, cds_rule_t *r)
{
    const char *code = cds_csvload_get(ld, C_CODE);
    const char *name = cds_csvload_get(ld, C_NAME);
    int op, sev, imp;
    memset(r, 0, sizeof *r);
    r->line = cds_csvload_line(ld);
    if (!rule_code_ok(code))
        return row_error(ld, C_CODE, code[0] ? "only A-Z, 0-9 and '_', at "
                         "most 64" : "empty", code[0] ? code : NULL);
    bool ctl = false;
    for (const char *q = name; *q; q++)
        ctl |= (unsigned char) *q < 0x20;
    if (!name[0] || ctl || !cds_utf8_valid(name, strlen(name)))
        return row_error(ld, C_NAME, "empty, not valid UTF-8 or holds "
                         "control characters", NULL);
    if (parse_enum(ld, C_OP, op_names, 8, -1, &op) < 0
        || parse_enum(ld, C_SEV, sev_names, 2, 0, &sev) < 0
        || parse_enum(ld, C_IMP, imp_names, 3, 1, &imp) < 0
        || parse_side(ld, C_LEFT, &r->left) < 0
        || parse_side(ld, C_RIGHT, &r->right) < 0) {
        rule_free(r);
        return -1;
    }
    r->op = (cds_rule_op_t) op;
    r->severity = (cds_rule_severity_t) sev;
    r->importance = imp_names[imp];
    r->code = strdup(code);
    r->name_vi = strdup(name);
    r->left_text = strdup(cds_csvload_get(ld, C_LEFT));
    r->right_text = strdup(cds_csvload_get(ld, C_RIGHT));
    if (!r->code || !r->name_vi || !r->left_text || !r->right_text) {
        rule_free(r);
        return row_error(ld, C_CODE, "out of memory", NULL);
    }
    return 0;
}

static int
append(cds_rules_t *self, loader_t *ld, cds_rule_t *r)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->r[i].code, r->code) == 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "defined twice (first on line %zu)",
                     self->r[i].line);
            rule_free(r);
            return row_error(ld, C_CODE, msg, self->r[i].code);
        }
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        cds_rule_t *a = realloc(self->r, cap * sizeof *a);
        if (!a) {
            rule_free(r);
            return row_error(ld, C_CODE, "out of memory", NULL);
        }
        self->r = a;
        self->cap = cap;
    }
    self->r[self->n++] = *r;
    return 0;
}

static int
take_row(loader_t *ld, void *self)
{
    cds_rule_t r;
    return parse_row(ld, &r) < 0 || append(self, ld, &r) < 0 ? -1 : 0;
}

static void
destroy(void *self)
{
    cds_rules_destroy((cds_rules_t **) &self);
}

static const int required[] = { C_CODE, C_NAME, C_LEFT, C_OP, C_RIGHT, -1 };
static const cds_csvload_spec_t spec = {
    .columns = col_names, .ncolumns = C__COUNT, .required = required,
    .size = sizeof (cds_rules_t), .destroy = destroy, .row = take_row,
};

cds_rules_t *
cds_rules_load(const char *path, const cds_catalog_t *catalog, char *err,
               size_t errlen)
{
    return cds_csvload_load(&spec, path, catalog, err, errlen);
}

size_t
cds_rules_check(const char *path, const cds_catalog_t *catalog, void *out)
{
    return cds_csvload_check(&spec, path, catalog, out);
}

void
cds_rules_destroy(cds_rules_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (size_t i = 0; i < (*self_p)->n; i++)
        rule_free(&(*self_p)->r[i]);
    free((*self_p)->r);
    free(*self_p);
    *self_p = NULL;
}

size_t
cds_rules_size(const cds_rules_t *self)
{
    return self ? self->n : 0;
}

const cds_rule_t *
cds_rules_at(const cds_rules_t *self, size_t i)
{
    return self && i < self->n ? &self->r[i] : NULL;
}

static bool
near_equal(double a, double b)
{
    double m = fmax(fabs(a), fabs(b));
    return fabs(a - b) <= 1e-9 * (m > 1 ? m : 1);
}

cds_rule_outcome_t
cds_rule_eval(const cds_rule_t *rule, cds_rule_lookup_fn look, void *ctx,
              double *l, double *r)
{
    double a = NAN, b = NAN;
    bool ha = cds_expr_eval(rule->left, look, ctx, &a);
    bool hb = cds_expr_eval(rule->right, look, ctx, &b);
    if (l)
        *l = ha ? a : NAN;
    if (r)
        *r = hb ? b : NAN;
    if (rule->op == CDS_ROP_COMPULSORY_PAIR)
        return ha == hb ? CDS_RULE_PASS : CDS_RULE_FAIL;
    if (rule->op == CDS_ROP_EXCLUSIVE_PAIR)
        return ha && hb ? CDS_RULE_FAIL : CDS_RULE_PASS;
    if (!ha || !hb)
        return CDS_RULE_SKIP;
    bool ok;
    switch (rule->op) {
    case CDS_ROP_EQ: ok = near_equal(a, b); break;
    case CDS_ROP_NE: ok = !near_equal(a, b); break;
    case CDS_ROP_GT: ok = a > b; break;
    case CDS_ROP_GE: ok = a >= b; break;
    case CDS_ROP_LT: ok = a < b; break;
    default: ok = a <= b; break;
    }
    return ok ? CDS_RULE_PASS : CDS_RULE_FAIL;
}

bool
cds_rule_codes_all(const cds_rule_t *rule,
                   bool (*has)(void *ctx, const char *code), void *ctx)
{
    const cds_expr_t *side[2] = {rule->left, rule->right};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < cds_expr_ncodes(side[s]); i++)
            if (!has(ctx, cds_expr_code(side[s], i)))
                return false;
    return true;
}

int
cds_rules_path(const char *configured, const char *catalog, char *buf,
               size_t len, bool *explicit)
{
    *explicit = configured && configured[0];
    if (*explicit) {
        int n = snprintf(buf, len, "%s", configured);
        return n < 0 || (size_t) n >= len ? CDS_ETOOBIG : CDS_OK;
    }
    char *copy = strdup(catalog ? catalog : ".");
    if (!copy)
        return CDS_ENOMEM;
    int n = snprintf(buf, len, "%s/rules.csv", dirname(copy));
    free(copy);
    return n < 0 || (size_t) n >= len ? CDS_ETOOBIG : CDS_OK;
}
