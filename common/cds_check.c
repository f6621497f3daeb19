/*  cds_check: see cds_check.h. The endpoint syntax check is written here
 *  because libzmq parses an endpoint only inside zmq_bind/zmq_connect,
 *  which --check-config must not call (a bind would take the port from a
 *  running daemon's restart, a connect would dial out). */
#include "cds_check.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
cds_check_problem(cds_check_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
    fputc('\n', c->out);
    c->problems++;
}

/* "section.name" -> "name", as the keys are spelled in messages. */
static const char *
short_key(const char *key)
{
    const char *dot = strchr(key, '.');
    return dot ? dot + 1 : key;
}

bool
cds_check_long(cds_check_t *c, const cds_config_t *cfg, const char *key,
               long long lo, long long hi, long long *out)
{
    char err[256];
    long long v = 0;
    if (cds_config_get_llong(cfg, key, &v, err, sizeof err) != CDS_OK
        || v < lo || v > hi) {
        const char *s = cds_config_get(cfg, key);
        cds_check_problem(c, "%s: \"%s\": expected a whole number %lld..%lld",
                          short_key(key), s ? s : "", lo, hi);
        return false;
    }
    if (out)
        *out = v;
    return true;
}

void
cds_check_log_level(cds_check_t *c, const cds_config_t *cfg,
                    const char *key)
{
    cds_log_level_t level;
    const char *s = cds_config_get(cfg, key);
    if (cds_log_level_parse(s, &level) != 0)
        cds_check_problem(c, "%s: \"%s\": expected debug, info, warn or "
                          "error", short_key(key), s ? s : "");
}

bool
cds_check_readable(cds_check_t *c, const char *key, const char *path)
{
    struct stat st;
    if (!path || !*path) {
        cds_check_problem(c, "%s: not set", short_key(key));
        return false;
    }
    const char *why = stat(path, &st) != 0 ? strerror(errno)
                    : !S_ISREG(st.st_mode) ? "not a regular file"
                    : access(path, R_OK) != 0 ? "not readable by this user"
                    : NULL;
    if (why)
        cds_check_problem(c, "%s: %s: %s", short_key(key), path, why);
    return why == NULL;
}

bool
cds_check_secret(cds_check_t *c, const char *key, const char *path)
{
    struct stat st;
    if (!cds_check_readable(c, key, path) || stat(path, &st) != 0)
        return false;
    bool ok = true;
#ifdef _WIN32
    char msg[700];                     /* owner-only is the ACL: cds_acl.c */
    if (cds_win32_key_private(path, msg, sizeof msg) != 0) {
        cds_check_problem(c, "%s: %s", short_key(key), msg);
        ok = false;
    }
#else
    if (st.st_mode & 077) {
        cds_check_problem(c, "%s: %s: mode %04o lets group or others read "
                          "the secret key (chmod 600 %s)", short_key(key),
                          path, (unsigned) (st.st_mode & 07777), path);
        ok = false;
    }
    if (st.st_uid != geteuid()) {
        cds_check_problem(c, "%s: %s: owned by uid %u, not by the daemon's "
                          "user (uid %u)", short_key(key), path,
                          (unsigned) st.st_uid, (unsigned) geteuid());
        ok = false;
    }
#endif
    return ok;
}

void
cds_check_identity(cds_check_t *c, const char *key, const char *path)
{
    char err[512] = "";
    int code = CDS_OK;
    if (!cds_check_secret(c, key, path))
        return;
    cds_identity_t *id = cds_identity_load(path, &code, err, sizeof err);
    if (!id)
        cds_check_problem(c, "%s: %s", short_key(key), err[0] ? err : path);
    cds_identity_destroy(&id);
}

/* dir is missing: can `run` create it (cds_mkdir_p)? The nearest existing
 * ancestor must be a writable, searchable directory. */
static void
check_creatable(cds_check_t *c, const char *key, const char *dir)
{
    char up[PATH_MAX];
    struct stat st;
    if (snprintf(up, sizeof up, "%s", dir) >= (int) sizeof up) {
        cds_check_problem(c, "%s: %s: path too long", short_key(key), dir);
        return;
    }
    while (stat(up, &st) != 0 && strcmp(up, "/") != 0
           && strcmp(up, ".") != 0) {
        char *d = dirname(up);        /* may point into up, or be static */
        memmove(up, d, strlen(d) + 1);
    }
    if (!S_ISDIR(st.st_mode) || access(up, W_OK | X_OK) != 0)
        cds_check_problem(c, "%s: %s does not exist and cannot be created "
                          "(%s is not writable)", short_key(key), dir, up);
}

void
cds_check_state_dir(cds_check_t *c, const char *key, const char *dir,
                    const char *db_name)
{
    struct stat st;
    char db[PATH_MAX];
    if (!dir || !*dir) {
        cds_check_problem(c, "%s: not set", short_key(key));
        return;
    }
    if (stat(dir, &st) != 0) {
        check_creatable(c, key, dir);
        return;
    }
    if (!S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0) {
        cds_check_problem(c, "%s: %s: %s", short_key(key), dir,
                          S_ISDIR(st.st_mode) ? "not writable by this user "
                          "(the database and its journal live there)"
                                              : "not a directory");
        return;
    }
    if (snprintf(db, sizeof db, "%s/%s", dir, db_name) >= (int) sizeof db)
        cds_check_problem(c, "%s: %s: path too long", short_key(key), dir);
    else if (access(db, F_OK) == 0 && access(db, R_OK | W_OK) != 0)
        cds_check_problem(c, "%s: %s: not readable and writable by this "
                          "user", short_key(key), db);
}

/* A host name or interface: letters, digits, '.', '-', '_'. */
static bool
name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z')
            && !(s[i] >= '0' && s[i] <= '9') && !strchr(".-_", s[i]))
            return false;
    return true;
}

/* "HOST:PORT" of a tcp endpoint: NULL if fine, else what is wrong. */
static const char *
tcp_problem(const char *hp, bool bind)
{
    const char *semi = strchr(hp, ';');   /* connect: "source;dest" */
    if (semi && !bind)
        hp = semi + 1;
    const char *colon = strrchr(hp, ':');
    if (!colon || colon == hp)
        return "expected tcp://HOST:PORT";
    const char *port = colon + 1;
    char *end = NULL;
    long p = strtol(port, &end, 10);
    bool wild = strcmp(port, "*") == 0 || strcmp(port, "!") == 0;
    if (!(bind && wild) && (!*port || *end || p < 1 || p > 65535))
        return bind ? "port must be 1..65535 or *" : "port must be 1..65535";
    size_t n = (size_t) (colon - hp);
    char host[256];
    if (n >= sizeof host)
        return "host too long";
    memcpy(host, hp, n);
    host[n] = '\0';
    unsigned char buf[16];
    if (host[0] == '[') {
        if (n < 3 || host[n - 1] != ']')
            return "IPv6 host must be [ADDRESS]";
        host[n - 1] = '\0';
        return inet_pton(AF_INET6, host + 1, buf) == 1
                   ? NULL : "not an IPv6 address";
    }
    if (strcmp(host, "*") == 0)
        return bind ? NULL : "cannot connect to *";
    return name_ok(host, n) ? NULL : "host is not an address or name";
}

void
cds_check_endpoint(cds_check_t *c, const char *key, const char *ep,
                   bool bind)
{
    const char *why = NULL;
    if (!ep || !*ep)
        why = "not set";
    else if (strncmp(ep, "tcp://", 6) == 0)
        why = tcp_problem(ep + 6, bind);
    else if (strncmp(ep, "ipc://", 6) == 0) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", ep + 6);
        if (!ep[6])
            why = "expected ipc://PATH";
        else if (bind && access(dirname(dir), W_OK | X_OK) != 0)
            why = "the socket's directory is missing or not writable";
    } else
        why = "expected tcp://HOST:PORT or ipc://PATH";
    if (why)
        cds_check_problem(c, "%s: \"%s\": %s", short_key(key), ep ? ep : "",
                          why);
}
