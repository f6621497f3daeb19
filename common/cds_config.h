/*  cds_config: one option table per program gives both the INI config file
 *  and the getopt_long flags, so every option is also a flag.
 *
 *  INI (parsed by libinih): "[agent]\nserver = tcp://..." sets key
 *  "agent.server"; a flag --server sets the same key. Precedence: flag >
 *  config file > default. Unknown keys in the file are an error naming
 *  file:line, so a typo never silently keeps a default. */
#ifndef CDS_CONFIG_H
#define CDS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *key;           /* "section.name" as in the INI file */
    const char *flag;          /* long flag without "--"; NULL: file only */
    int short_flag;            /* 0 for none */
    const char *arg_name;      /* "PATH", "URL"; NULL: boolean switch */
    const char *dflt;          /* default text, NULL for none */
    const char *help;          /* one line for --help */
} cds_option_t;

typedef struct cds_config cds_config_t;

cds_config_t *cds_config_new(const cds_option_t *options, size_t n);
void cds_config_destroy(cds_config_t **self_p);

/* Parse argv[first..argc) for the table's flags plus --config FILE (and
 * -c). Loads the config file (the --config one, else default_path if it
 * exists, default_path may be NULL), then applies flags over it. Non-option
 * arguments are left in order in *rest (borrowed argv pointers, *n_rest).
 * Returns CDS_OK, CDS_EUSAGE (message in err), or CDS_EIO/CDS_EMALFORMED
 * for the file (err: "file:line: ..."). "--help" sets *help and returns
 * CDS_OK. */
int cds_config_parse(cds_config_t *self, int argc, char **argv, int first,
                     const char *default_path, bool *help, char ***rest,
                     int *n_rest, char *err, size_t errlen);
/* Load one INI file (also used by tests). */
int cds_config_load_file(cds_config_t *self, const char *path, char *err,
                         size_t errlen);
/* The config file loaded last (the --config one or default_path), NULL
 * when none was read. Borrowed. */
const char *cds_config_path(const cds_config_t *self);
/* Set a key (must be in the table). CDS_OK or CDS_EUSAGE. */
int cds_config_set(cds_config_t *self, const char *key, const char *value);
/* Value or the table default (may be NULL). Borrowed. */
const char *cds_config_get(const cds_config_t *self, const char *key);
/* Every value given by flags for key, in order (--org-unit A --org-unit B);
 * when no flag gave it, the single file/set value or default (0 if none).
 * *values is borrowed, valid until the next parse or set of the key. */
size_t cds_config_get_all(const cds_config_t *self, const char *key,
                          const char ***values);
/* Integer value; CDS_OK, or CDS_EUSAGE with "key: not a number" in err. */
int cds_config_get_long(const cds_config_t *self, const char *key, long *out,
                        char *err, size_t errlen);
/* The same, 64 bits everywhere: long is 32 bits on Windows (LLP64), too
 * small for milliseconds over 24 days or byte counts over 2 GiB. */
int cds_config_get_llong(const cds_config_t *self, const char *key,
                         long long *out, char *err, size_t errlen);
/* Boolean: true/false/yes/no/1/0/on/off. A switch flag given means true. */
bool cds_config_get_bool(const cds_config_t *self, const char *key);
/* Print the option table as --help lines to f (FILE *). */
void cds_config_print_help(const cds_config_t *self, void *f);
/* Print the option table as man(7) .TP entries to f (FILE *): the OPTIONS
 * body of the pages in docs/man, written there by tests/tools/gen_man.sh. */
void cds_config_print_man(const cds_config_t *self, void *f);

#endif
