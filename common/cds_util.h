/*  cds_util: small helpers with no better home: clocks, hex, files, UTF-8.
 *  Nothing here allocates unless it says so. */
#ifndef CDS_UTIL_H
#define CDS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Wall clock, milliseconds since the Unix epoch. */
uint64_t cds_now_ms(void);
/* Monotonic clock in milliseconds (for timeouts and backoff). */
uint64_t cds_mono_ms(void);
/* Hex-encode n bytes into out (must hold 2n+1). Returns out. */
char *cds_hex(char *out, const uint8_t *in, size_t n);
/* Decode exactly n bytes from a 2n-char hex string. 0 ok, -1 bad input. */
int cds_unhex(uint8_t *out, size_t n, const char *hex);
/* Read a whole file of at most max bytes into a malloc'd NUL-terminated
 * buffer (caller frees *data). Returns CDS_OK, CDS_EIO (errno kept) or
 * CDS_ETOOBIG. */
int cds_read_file(const char *path, size_t max, char **data, size_t *len);
/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool cds_utf8_valid(const char *s, size_t len);
/* Number of terminal columns the UTF-8 string occupies (Vietnamese
 * combining marks count 0). Used for aligned tables. */
size_t cds_utf8_width(const char *s);
/* Copy of s for a terminal or a CSV file with every control byte
 * (0x01-0x1F, 0x7F) shown as an escape: "\t", "\n", "\r", else "\x1b"
 * style. keep_ws keeps TAB, LF and CR as they are (CSV quotes them).
 * Stored text may predate the rules that refuse control bytes now, and
 * an ESC sequence in a cell would drive the operator's terminal. Caller
 * frees; NULL on ENOMEM. s NULL gives "". */
char *cds_ctl_escape(const char *s, bool keep_ws);
/* mkdir -p with mode. 0 ok, -1 (errno set). */
int cds_mkdir_p(const char *path, mode_t mode);
/* fsync the directory holding path, so a file created or renamed there
 * keeps its name after a power cut. 0, or -1 with errno. */
int cds_fsync_dir(const char *path);
/* A new temporary file beside path ("path.tmp-XXXXXX", O_CREAT|O_EXCL so
 * never through a symlink, mode 0644) for a writer that then publishes it
 * with cds_publish_file; its name into tmp (PATH_MAX bytes). CDS_OK, or
 * CDS_EIO with "tmp: cannot create: reason" in err. */
int cds_temp_beside(const char *path, char *tmp, size_t tmplen, char *err,
                    size_t errlen);
/* Publish the written file tmp as path: fsync it, rename it to path
 * without replacing anything (renameat2 RENAME_NOREPLACE; a hard link
 * where the filesystem lacks it), or replacing path when replace, then
 * fsync the directory. On failure tmp is removed and path untouched.
 * CDS_OK; CDS_EUSAGE "path: already exists ..." in err; CDS_EIO. */
int cds_publish_file(const char *tmp, const char *path, bool replace,
                     char *err, size_t errlen);
/* "3 min ago" style age for a duration in ms into buf. Returns buf. */
char *cds_format_age(char *buf, size_t len, uint64_t ms);
/* A duration in words, two units at most: "42 s", "5 min", "2 h 3 min",
 * "3 days 2 h" (truncated, never rounded up). Returns buf. */
char *cds_format_span(char *buf, size_t len, uint64_t ms);
/* ISO-8601 UTC "2026-11-28T05:13:47.123Z" for ms since epoch. Returns buf. */
char *cds_format_time(char *buf, size_t len, uint64_t ms);

#endif
