/*  fuzz_util: helpers shared by the libFuzzer harnesses (header-only; each
 *  harness is its own program). Inputs that must be files are written to
 *  one path in a private mkdtemp directory, rewritten for each input. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include "cds_log.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The file path inputs are written to (created on first use). */
static inline const char *
fuzz_path(const char *name)
{
    static char dir[64], path[128];
    if (!dir[0]) {
        strcpy(dir, "/tmp/cdsync-fuzz.XXXXXX");
        if (!mkdtemp(dir))
            abort();
        cds_log_init("fuzz", CDS_LOG_ERROR + 1);   /* silence */
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* Write data to fuzz_path(name); returns the path. */
static inline const char *
fuzz_file(const char *name, const uint8_t *data, size_t size)
{
    const char *p = fuzz_path(name);
    FILE *f = fopen(p, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    return p;
}

/* A NUL-terminated malloc'd copy. */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
