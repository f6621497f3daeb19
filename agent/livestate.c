/*  livestate: see livestate.h. */
#include "livestate.h"

#include "cds_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
state_path(const char *state_dir, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/agent.state", state_dir);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
livestate_open(const char *state_dir)
{
    char path[512];
    if (state_path(state_dir, path, sizeof path) != 0)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || livestate_write(fd, "starting", NULL, 0) != 0
        || fsync(fd) != 0) {
        cds_log(CDS_LOG_WARN, "livestate_failed", "path=%s error=%s",
                cds_logq(path), cds_logq(strerror(errno)));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int
livestate_write(int fd, const char *state, const char *error,
                uint64_t since_ms)
{
    char buf[LIVESTATE_BYTES];
    memset(buf, ' ', sizeof buf);
    int n = snprintf(buf, sizeof buf, "%.31s\t%" PRIu64 "\t%.399s\n", state,
                     since_ms, error ? error : "");
    if (n < 0 || (size_t)n >= sizeof buf)
        return -1;
    for (char *p = buf; p < buf + n - 1; p++)
        if (*p == '\n')
            *p = ' ';                  /* one line, whatever the error */
    buf[n] = ' ';                      /* snprintf's NUL: padding */
    return pwrite(fd, buf, sizeof buf, 0) == (ssize_t)sizeof buf ? 0 : -1;
}

int
livestate_update(int fd, livestate_t *last, const char *state,
                 const char *error, uint64_t since_ms)
{
    const char *e = error ? error : "";
    if (last->state[0] && strcmp(state, last->state) == 0
        && strncmp(e, last->error, sizeof last->error - 1) == 0)
        return 0;                      /* unchanged: no write */
    if (livestate_write(fd, state, error, since_ms) != 0)
        return -1;
    snprintf(last->state, sizeof last->state, "%.31s", state);
    snprintf(last->error, sizeof last->error, "%.399s", e);
    last->since_ms = since_ms;
    return 0;
}

int
livestate_read(const char *state_dir, livestate_t *out)
{
    char path[512], buf[LIVESTATE_BYTES + 1];
    if (state_path(state_dir, path, sizeof path) != 0)
        return -1;
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, LIVESTATE_BYTES, f);
    fclose(f);
    buf[n] = '\0';
    char *nl = strchr(buf, '\n');
    char *t1 = strchr(buf, '\t');
    char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    if (!nl || !t1 || !t2 || t2 > nl || (size_t)(t1 - buf) >= sizeof out->state)
        return -1;
    *nl = *t1 = *t2 = '\0';
    memset(out, 0, sizeof *out);
    memcpy(out->state, buf, (size_t)(t1 - buf) + 1);
    out->since_ms = strtoull(t1 + 1, NULL, 10);
    snprintf(out->error, sizeof out->error, "%.399s", t2 + 1);
    return 0;
}
