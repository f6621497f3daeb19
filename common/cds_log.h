/*  cds_log: logfmt lines on stderr (journald picks them up under systemd).
 *
 *  Format: ts=2026-11-28T05:13:47.123Z level=info prog=cdsync-agent
 *          event=batch_sent <caller's key=value pairs>
 *  Callers pass values that may contain spaces or quotes through cds_logq().
 *  Identical lines repeated in a burst are rate-limited with a count
 *  (cds_log_set_rate), so a flood of the same refusal cannot fill journald.
 *  Under systemd, when stderr is the journal ($JOURNAL_STREAM names fd 2),
 *  each line starts with its syslog priority ("<3>" error, "<4>" warn,
 *  "<6>" info, "<7>" debug) so `journalctl -p err` selects; journald strips
 *  the prefix. Anywhere else the line is plain logfmt.
 *  Secrets never go through this module. */
#ifndef CDS_LOG_H
#define CDS_LOG_H

#include <stdbool.h>

typedef enum {
    CDS_LOG_DEBUG = 0,
    CDS_LOG_INFO = 1,
    CDS_LOG_WARN = 2,
    CDS_LOG_ERROR = 3,
} cds_log_level_t;

/* Set program name (borrowed, must outlive logging) and minimum level, and
 * decide once whether stderr is the journal (priority prefix). */
void cds_log_init(const char *program, cds_log_level_t min_level);
/* Change the minimum level at run time (SIGHUP reload); any thread. */
void cds_log_set_level(cds_log_level_t min_level);
/* True when $JOURNAL_STREAM is "<dev>:<ino>" of the file on fd 2. */
bool cds_log_stderr_is_journal(void);
/* Parse "debug|info|warn|error"; 0 on success, -1 otherwise. */
int cds_log_level_parse(const char *name, cds_log_level_t *out);
/* Log one line: event is a snake_case token, fmt the rest of the pairs. */
void cds_log(cds_log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Rate limit of repeated identical lines (same level, event and pairs):
 * within window_ms at most burst are written; the rest are counted, and
 * the next identical line after the window carries " repeated=N" (N lines
 * not written). burst 0 turns limiting off. Default: 5 per 10 000 ms. Set
 * before threads start (tests, programs). */
void cds_log_set_rate(unsigned burst, unsigned window_ms);
/* Log to a size-bounded file instead of stderr (the Windows service, which
 * has no console): path is opened for append and put on fd 2, so stray
 * writes to fd 2 land there too (not stdio's stderr where, as in a
 * Windows service, it has no descriptor). When a line takes the file
 * past max_bytes it is rotated: path.(keep-1) -> path.keep, ..., path ->
 * path.1 (the oldest beyond keep is replaced), and a fresh path opened, so
 * at most keep + 1 files of about max_bytes each exist. keep 0: path is
 * emptied instead. 0, or -1 with errno when path cannot be opened (stderr
 * unchanged). A rename that fails keeps writing to path (never loses the
 * line). Call before threads start; any thread may log afterwards. */
int cds_log_to_file(const char *path, unsigned long long max_bytes,
                    unsigned keep);
/* Quote s for logfmt when needed. Returns a pointer into a small rotating
 * thread-local buffer (8 slots): valid until 8 more calls. NULL -> "". */
const char *cds_logq(const char *s);

#endif
