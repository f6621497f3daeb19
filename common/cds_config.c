/*  cds_config: option table -> INI keys (libinih) and getopt_long flags.
 *  Values are kept as text, one slot per table entry; flags additionally
 *  keep every value they gave, in order, for repeatable options. */
#include "cds_config.h"
#include "cds_err.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define FLAG_BASE 256 /* getopt_long val for table entry i */

struct cds_config {
    const cds_option_t *options; /* borrowed table */
    size_t n;                    /* entries in options */
    char **values;               /* [n] owned; NULL: not set, use default */
    char ***given;               /* [n] owned arrays: values given by flags */
    size_t *n_given;             /* [n] lengths of given[i] */
    char **args;                 /* owned copy of argv getopt may permute */
    char *path;                  /* config file loaded last, NULL: none */
};

cds_config_t *
cds_config_new(const cds_option_t *options, size_t n)
{
    cds_config_t *self = calloc(1, sizeof *self);

    if (!self)
        return NULL;
    self->options = options;
    self->n = n;
    self->values = calloc(n + 1, sizeof *self->values);
    self->given = calloc(n + 1, sizeof *self->given);
    self->n_given = calloc(n + 1, sizeof *self->n_given);
    if (!self->values || !self->given || !self->n_given)
        cds_config_destroy(&self);
    return self;
}

static void
clear_given(cds_config_t *self, size_t i)
{
    for (size_t k = 0; k < self->n_given[i]; k++)
        free(self->given[i][k]);
    free(self->given[i]);
    self->given[i] = NULL;
    self->n_given[i] = 0;
}

void
cds_config_destroy(cds_config_t **self_p)
{
    cds_config_t *self = self_p ? *self_p : NULL;

    if (!self)
        return;
    for (size_t i = 0; i < self->n; i++) {
        if (self->values)
            free(self->values[i]);
        if (self->given && self->n_given)
            clear_given(self, i);
    }
    free(self->values);
    free(self->given);
    free(self->n_given);
    free(self->args);
    free(self->path);
    free(self);
    *self_p = NULL;
}

/* Index of key in the table, or -1. O(n); tables have a few dozen rows. */
static int
find_key(const cds_config_t *self, const char *key)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->options[i].key, key) == 0)
            return (int)i;
    return -1;
}

static int
store(cds_config_t *self, size_t i, const char *value)
{
    char *copy = strdup(value ? value : "");

    if (!copy)
        return CDS_ENOMEM;
    free(self->values[i]);
    self->values[i] = copy;
    return CDS_OK;
}

/* A flag value both replaces the current one and is remembered in order. */
static int
store_flag(cds_config_t *self, size_t i, const char *value)
{
    char **grown =
        realloc(self->given[i], (self->n_given[i] + 1) * sizeof *grown);

    if (!grown)
        return CDS_ENOMEM;
    self->given[i] = grown;
    if (!(grown[self->n_given[i]] = strdup(value)))
        return CDS_ENOMEM;
    self->n_given[i]++;
    return store(self, i, value);
}

int
cds_config_set(cds_config_t *self, const char *key, const char *value)
{
    int i = find_key(self, key);

    if (i < 0)
        return CDS_EUSAGE;
    clear_given(self, (size_t)i);
    return store(self, (size_t)i, value);
}

const char *
cds_config_get(const cds_config_t *self, const char *key)
{
    int i = find_key(self, key);

    assert(i >= 0 && "key not in the option table");
    if (i < 0)
        return NULL;
    return self->values[i] ? self->values[i] : self->options[i].dflt;
}

size_t
cds_config_get_all(const cds_config_t *self, const char *key,
                   const char ***values)
{
    int i = find_key(self, key);

    assert(i >= 0 && "key not in the option table");
    *values = NULL;
    if (i < 0)
        return 0;
    if (self->n_given[i] > 0) {
        *values = (const char **)self->given[i];
        return self->n_given[i];
    }
    if (self->values[i]) {
        *values = (const char **)&self->values[i];
        return 1;
    }
    if (self->options[i].dflt) {
        *values = (const char **)&self->options[i].dflt;
        return 1;
    }
    return 0;
}

int
cds_config_get_llong(const cds_config_t *self, const char *key,
                     long long *out, char *err, size_t errlen)
{
    const char *v = cds_config_get(self, key);
    char *end = NULL;

    if (!v || !*v) {
        snprintf(err, errlen, "%s: not a number: no value", key);
        return CDS_EUSAGE;
    }
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || end == v) {
        snprintf(err, errlen, "%s: not a number: \"%s\"", key, v);
        return CDS_EUSAGE;
    }
    *out = n;
    return CDS_OK;
}

int
cds_config_get_long(const cds_config_t *self, const char *key, long *out,
                    char *err, size_t errlen)
{
    long long n = 0;
    int rc = cds_config_get_llong(self, key, &n, err, errlen);
    if (rc == CDS_OK && (n < LONG_MIN || n > LONG_MAX)) {
        snprintf(err, errlen, "%s: not a number: \"%s\"", key,
                 cds_config_get(self, key));
        return CDS_EUSAGE;
    }
    if (rc == CDS_OK)
        *out = (long) n;
    return rc;
}

bool
cds_config_get_bool(const cds_config_t *self, const char *key)
{
    static const char *const yes[] = {"true", "yes", "1", "on"};
    const char *v = cds_config_get(self, key);

    for (size_t k = 0; v && k < sizeof yes / sizeof yes[0]; k++)
        if (strcasecmp(v, yes[k]) == 0)
            return true;
    return false; /* false/no/0/off, unset, or anything else */
}

/* ---- INI file ---------------------------------------------------------- */

typedef struct {
    cds_config_t *self;
    FILE *file;       /* being read */
    const char *path; /* for messages */
    int line;         /* number of the line last handed to inih */
    const char *raw;  /* that line as read */
    char *buf;        /* getline buffer */
    size_t cap;       /* its size */
    int rc;           /* first error, CDS_OK if none */
    int err_line;     /* line of the first error */
    char *err;        /* caller's message buffer */
    size_t errlen;    /* its size */
} ini_ctx_t;

static void __attribute__((format(printf, 3, 4)))
ini_fail(ini_ctx_t *ctx, int rc, const char *fmt, ...)
{
    char what[300];
    va_list ap;

    if (ctx->rc != CDS_OK)
        return; /* keep the first error */
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (ctx->line > 0)
        snprintf(ctx->err, ctx->errlen, "%s:%d: %s", ctx->path, ctx->line,
                 what);
    else /* Windows' INI reader: no line numbers (docs/WINDOWS.md) */
        snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->path, what);
    ctx->rc = rc;
    ctx->err_line = ctx->line;
}

#ifndef CDS_INI_WIN32
/* fgets-style reader for ini_parse_stream. The library in use is built
 * without INI_HANDLER_LINENO, so counting lines here is how errors get
 * their line number. A line longer than inih's buffer would be split
 * silently by fgets; it is refused instead. */
static char *
ini_read_line(char *str, int num, void *stream)
{
    ini_ctx_t *ctx = stream;
    ssize_t n = getline(&ctx->buf, &ctx->cap, ctx->file);

    if (n < 0)
        return NULL;
    ctx->line++;
    ctx->raw = ctx->buf;
    if (n > num - 1) {
        ini_fail(ctx, CDS_EMALFORMED, "line longer than %d bytes", num - 2);
        return NULL;
    }
    memcpy(str, ctx->buf, (size_t)n + 1);
    return str;
}
#endif

static int
ini_on_value(void *user, const char *section, const char *name,
             const char *value)
{
    ini_ctx_t *ctx = user;
    char key[256];

    if (ctx->raw[0] == ' ' || ctx->raw[0] == '\t') {
        /* inih would read it as a continuation of the previous value */
        ini_fail(ctx, CDS_EMALFORMED,
                 "indented line not allowed (start options at column 1)");
        return 0;
    }
    int n =
        snprintf(key, sizeof key, "%s%s%s", section, *section ? "." : "", name);
    if (n < 0 || (size_t)n >= sizeof key || find_key(ctx->self, key) < 0) {
        ini_fail(ctx, CDS_EMALFORMED, "unknown option \"%s\"", key);
        return 0;
    }
    if (cds_config_set(ctx->self, key, value) != CDS_OK) {
        ini_fail(ctx, CDS_ENOMEM, "out of memory at \"%s\"", key);
        return 0;
    }
    return 1;
}

#ifdef CDS_INI_WIN32
/* Windows without libinih: kernel32's INI reader behind inih's ini_parse
 * (common/win32/inih/ini.h). It reads the file by name and knows no line
 * numbers, so errors name the file and the option or the bad entry. */
int
cds_config_load_file(cds_config_t *self, const char *path, char *err,
                     size_t errlen)
{
    ini_ctx_t ctx = {
        .self = self, .path = path, .raw = "", .err = err, .errlen = errlen};
    char bad[200] = "";
    FILE *f = fopen(path, "r"); /* for errno: kernel32 does not set it */

    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return CDS_EIO;
    }
    fclose(f);
    free(self->path);
    self->path = strdup(path);
    int rc = ini_parse_win32(path, ini_on_value, &ctx, bad, sizeof bad);
    if (rc == -1) {
        snprintf(err, errlen, "%s: cannot open", path);
        ctx.rc = CDS_EIO;
    } else if (rc == -2) {
        snprintf(err, errlen, "%s: out of memory", path);
        ctx.rc = CDS_ENOMEM;
    } else if (rc > 0 && (ctx.rc == CDS_OK || bad[0])) {
        /* bad is filled only when the bad entry was the first failure */
        snprintf(err, errlen,
                 "%s: syntax error at \"%s\" (expected \"name = value\""
                 " or \"[section]\")",
                 path, bad);
        ctx.rc = CDS_EMALFORMED;
    }
    return ctx.rc;
}
#else
int
cds_config_load_file(cds_config_t *self, const char *path, char *err,
                     size_t errlen)
{
    ini_ctx_t ctx = {
        .self = self, .path = path, .raw = "", .err = err, .errlen = errlen};

    if (!(ctx.file = fopen(path, "r"))) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return CDS_EIO;
    }
    free(self->path);
    self->path = strdup(path);
    int line = ini_parse_stream(ini_read_line, &ctx, ini_on_value, &ctx);
    if (line == 0 && ferror(ctx.file)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        ctx.rc = CDS_EIO;
    } else if (line > 0 && (ctx.rc == CDS_OK || line < ctx.err_line)) {
        snprintf(err, errlen,
                 "%s:%d: syntax error (expected \"name = value\""
                 " or \"[section]\")",
                 path, line);
        ctx.rc = CDS_EMALFORMED;
    } else if (line < 0 && ctx.rc == CDS_OK) {
        snprintf(err, errlen, "%s: out of memory", path);
        ctx.rc = CDS_ENOMEM;
    }
    free(ctx.buf);
    fclose(ctx.file);
    return ctx.rc;
}
#endif

const char *
cds_config_path(const cds_config_t *self)
{
    return self->path;
}

/* ---- command line ------------------------------------------------------ */

enum { OPT_CONFIG = 'c', OPT_HELP = 'h' };

/* Build getopt_long's tables from the option table. Caller frees both. */
static int
build_getopt(const cds_config_t *self, struct option **longs, char **shorts)
{
    struct option *lo = calloc(self->n + 3, sizeof *lo);
    char *so = malloc(2 * self->n + 8);
    size_t nl = 0, ns = 0;

    *longs = lo;
    *shorts = so;
    if (!lo || !so)
        return CDS_ENOMEM;
    ns += (size_t)sprintf(so, ":c:h"); /* ':' reports a missing argument */
    for (size_t i = 0; i < self->n; i++) {
        const cds_option_t *o = &self->options[i];
        int has_arg = o->arg_name ? required_argument : no_argument;
        if (o->flag)
            lo[nl++] =
                (struct option){o->flag, has_arg, NULL, FLAG_BASE + (int)i};
        if (o->short_flag) {
            so[ns++] = (char)o->short_flag;
            if (o->arg_name)
                so[ns++] = ':';
        }
    }
    so[ns] = '\0';
    lo[nl++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
    lo[nl++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    return CDS_OK;
}

/* Table index for a getopt result, or -1. */
static int
option_index(const cds_config_t *self, int c)
{
    if (c >= FLAG_BASE && (size_t)(c - FLAG_BASE) < self->n)
        return c - FLAG_BASE;
    for (size_t i = 0; i < self->n; i++)
        if (self->options[i].short_flag == c)
            return (int)i;
    return -1;
}

/* Is c a flag of the table that is a boolean switch? */
static bool
takes_no_arg(const cds_config_t *self, int c)
{
    int i = option_index(self, c);
    return c >= FLAG_BASE && i >= 0 && !self->options[i].arg_name;
}

/* Spell an option as the user typed it, for messages. */
static const char *
option_text(const cds_config_t *self, int c, char *buf, size_t len)
{
    int i = option_index(self, c);

    if (c >= FLAG_BASE && i >= 0)
        snprintf(buf, len, "--%s", self->options[i].flag);
    else if (c == OPT_CONFIG)
        snprintf(buf, len, "--config");
    else if (i >= 0)
        snprintf(buf, len, "-%c", c);
    else
        snprintf(buf, len, "%s", "?");
    return buf;
}

typedef struct {
    int index;         /* table entry */
    const char *value; /* borrowed from argv */
} flag_t;

/* Run getopt over args[0..argc); flags go to *flags (n_flags), the config
 * path to *config. GNU getopt permutes: options may follow operands. */
static int
scan_flags(cds_config_t *self, int argc, flag_t *flags, int *n_flags,
           const char **config, bool *help, char *err, size_t errlen)
{
    struct option *lo = NULL;
    char *so = NULL, name[64];
    int c, rc = build_getopt(self, &lo, &so);

    optind = 0; /* GNU: full reset, so parse can run again */
    opterr = 0; /* messages are ours, in err */
    while (rc == CDS_OK &&
           (c = getopt_long(argc, self->args, so, lo, NULL)) != -1) {
        int i = option_index(self, c);
        if (c == OPT_CONFIG)
            *config = optarg;
        else if (c == OPT_HELP)
            *help = true;
        else if (c == ':' && takes_no_arg(self, optopt)) {
            /* "--switch=x": mingw-w64's getopt_long answers ':' here,
             * glibc's '?' (next branch) */
            snprintf(err, errlen, "option \"%s\" takes no argument",
                     option_text(self, optopt, name, sizeof name));
            rc = CDS_EUSAGE;
        } else if (c == ':') {
            snprintf(err, errlen, "option \"%s\" requires an argument",
                     option_text(self, optopt, name, sizeof name));
            rc = CDS_EUSAGE;
        } else if (c == '?' && optopt >= FLAG_BASE) {
            snprintf(err, errlen, "option \"%s\" takes no argument",
                     option_text(self, optopt, name, sizeof name));
            rc = CDS_EUSAGE;
        } else if (c == '?' || i < 0) {
            if (optopt)
                snprintf(err, errlen, "unknown option \"-%c\"", optopt);
            else
                snprintf(err, errlen, "unknown option \"%s\"",
                         self->args[optind - 1]);
            rc = CDS_EUSAGE;
        } else
            flags[(*n_flags)++] =
                (flag_t){i, self->options[i].arg_name ? optarg : "true"};
    }
    free(lo);
    free(so);
    return rc;
}

static int
load_config(cds_config_t *self, const char *config, const char *default_path,
            char *err, size_t errlen)
{
    if (config)
        return cds_config_load_file(self, config, err, errlen);
    if (default_path && access(default_path, F_OK) == 0)
        return cds_config_load_file(self, default_path, err, errlen);
    return CDS_OK;
}

int
cds_config_parse(cds_config_t *self, int argc, char **argv, int first,
                 const char *default_path, bool *help, char ***rest,
                 int *n_rest, char *err, size_t errlen)
{
    int n_args = argc - first + 1, n_flags = 0, rc = CDS_ENOMEM;
    const char *config = NULL;
    flag_t *flags = NULL;

    *help = false;
    *rest = NULL;
    *n_rest = 0;
    if (first < 1 || first > argc) {
        snprintf(err, errlen, "bad argument index %d", first);
        return CDS_EUSAGE;
    }
    /* getopt wants argv[0] then the arguments; our copy is what it
     * permutes, and *rest points into it. */
    free(self->args);
    if (!(self->args = calloc((size_t)n_args + 1, sizeof *self->args)) ||
        !(flags = calloc((size_t)n_args, sizeof *flags)))
        goto out;
    self->args[0] = argv[0];
    memcpy(self->args + 1, argv + first, (size_t)(argc - first) * sizeof *argv);
    rc = scan_flags(self, n_args, flags, &n_flags, &config, help, err, errlen);
    if (rc != CDS_OK)
        goto out;
    *rest = self->args + optind;
    *n_rest = n_args - optind;
    if (*help)
        goto out; /* --help works even with a broken config */
    if ((rc = load_config(self, config, default_path, err, errlen)) != CDS_OK)
        goto out;
    for (size_t i = 0; i < self->n; i++)
        clear_given(self, i);
    for (int k = 0; k < n_flags && rc == CDS_OK; k++)
        rc = store_flag(self, (size_t)flags[k].index, flags[k].value);
out:
    if (rc == CDS_ENOMEM)
        snprintf(err, errlen, "out of memory");
    free(flags);
    return rc;
}

/* ---- help -------------------------------------------------------------- */

static void
help_left(const cds_option_t *o, char *buf, size_t len)
{
    char shortf[8] = "    ";

    if (o->short_flag)
        snprintf(shortf, sizeof shortf, "-%c, ", o->short_flag);
    snprintf(buf, len, "  %s--%s%s%s", shortf, o->flag, o->arg_name ? " " : "",
             o->arg_name ? o->arg_name : "");
}

/* Layout: "  -x, --flag ARG   help (default: D)", help column aligned. */
void
cds_config_print_help(const cds_config_t *self, void *f)
{
    static const cds_option_t builtin[] = {
        {"", "config", 'c', "FILE", NULL, "read options from this INI file"},
        {"", "help", 'h', NULL, NULL, "print this help and exit"},
    };
    FILE *out = f;
    char left[128];
    size_t width = 0;

    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < self->n + 2; i++) {
            const cds_option_t *o =
                i < self->n ? &self->options[i] : &builtin[i - self->n];
            if (!o->flag)
                continue; /* file-only option */
            help_left(o, left, sizeof left);
            if (pass == 0) {
                width = strlen(left) > width ? strlen(left) : width;
                continue;
            }
            fprintf(out, "%-*s   %s", (int)width, left, o->help ? o->help : "");
            if (o->dflt)
                fprintf(out, " (default: %s)", o->dflt);
            fputc('\n', out);
        }
    }
}

/* Text for roff: '-' and '\\' escaped; a leading '.' or '\'' guarded. */
static void
man_text(FILE *out, const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", out);
    for (; *s; s++) {
        if (*s == '-' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

/* One .TP per flag: "--flag ARG", help, default, and the INI key
 * ("[agent] state_dir") so the page says how flags map to the file. */
void
cds_config_print_man(const cds_config_t *self, void *f)
{
    FILE *out = f;
    for (size_t i = 0; i < self->n; i++) {
        const cds_option_t *o = &self->options[i];
        if (!o->flag)
            continue;
        fputs(".TP\n.B \\-\\-", out);
        man_text(out, o->flag);
        if (o->arg_name) {
            fputs(" \\fI", out);
            man_text(out, o->arg_name);
            fputs("\\fR", out);
        }
        fputc('\n', out);
        man_text(out, o->help ? o->help : "");
        if (o->dflt) {
            fputs(" (default: ", out);
            man_text(out, o->dflt);
            fputc(')', out);
        }
        const char *dot = strchr(o->key, '.');
        if (dot) {
            fprintf(out, ".\nConfig file: \\fB%.*s\\fR", (int)(dot - o->key),
                    o->key);
            fputs(" section, key \\fB", out);
            man_text(out, dot + 1);
            fputs("\\fR", out);
        }
        fputs(".\n", out);
    }
}
