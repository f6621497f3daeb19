/*  health: per-agent message health at the aggregator: last seen, lag
 *  (reported by heartbeats and inferred from batches), accepted / rejected
 *  counts over the last hour and day, last reject reason, clock offset, and
 *  a state from configurable thresholds (docs/OPERATIONS.md).
 *
 *  Invariant: every figure of a batch or a refusal lives in the database
 *  (health_sql.h) and is written by ingest in the same transaction as the
 *  message it describes (one upsert of agent_health plus one of the
 *  current 5-minute bucket per message, never per update), so a restart
 *  forgets nothing and a rolled-back group leaves no count behind.
 *  Reading (health_list) never writes: the `health` command and the HTTP
 *  thread use read-only connections.
 *
 *  Heartbeats: held in memory by the writer's health_t (the last one's
 *  figures, how many, and the agent's last-seen time) and written for all
 *  agents at once by health_flush, in its own transaction, when the oldest
 *  held one is flush_ms old (default HEALTH_FLUSH_MS_DEFAULT; the server
 *  loop asks health_flush_due_ms) and at shutdown: a heartbeat costs no
 *  synced write of its own. Readers see heartbeat figures and last-seen
 *  at most flush_ms (plus one group) late; a crash loses at most the held
 *  heartbeats, which are reports, not data (docs/RELIABILITY.md).
 *
 *  States, worst first (severity: 2 critical, 1 warning, 0 ok):
 *    REVOKED   (2) the key was revoked
 *    AHEAD     (2) the agent's last heartbeat reports acks (acked_seq)
 *                  above the database's applied seq: acknowledged updates
 *                  are missing (a restore not accepted); the agent cannot
 *                  sync (gap_unfillable) until `accept-restore --force`
 *    SILENT    (2) no verified message for silent_after_ms (since
 *                  enrolment when it never spoke)
 *    REJECTING (1) in the last hour >= rejecting_min rejections (updates
 *                  + whole messages) and rejected / (accepted + rejected)
 *                  >= rejecting_ratio
 *    LAGGING   (1) lag > lagging_after_ms, where lag = the oldest pending
 *                  age of the last heartbeat aged by the time since it
 *                  (when the queue was not empty), or, when a batch came
 *                  after that heartbeat, the age of that batch's oldest
 *                  new update at arrival (inferred from its EFFECTIVE
 *                  stamp, ingest.h: a slow clock does not look late)
 *    SKEWED    (1) |clock offset| > skewed_after_ms (max_clock_skew_ms),
 *                  the offset being the agent's clock minus ours from its
 *                  last heartbeat (clock_ms) or batch (sent_at_ms),
 *                  whichever came last; its stamps are shifted (ingest.h)
 *    OK        (0) otherwise
 *  Windows use 5-minute buckets: "last hour" covers 60 to 65 minutes.
 *
 *  Metadata (issue 20): an agent (not revoked) is behind when the version
 *  its last heartbeat named (0: its configured files, or no heartbeat
 *  yet) is older than the newest published one. It has been behind since
 *  the later of the publication of the first version newer than its own
 *  (metadata_version.published_ms) and its enrolment: both times of this
 *  aggregator's clock, never the agent's. Behind for more than
 *  metadata_behind_after_ms (default a day) is a metadata alert: not a
 *  state (an agent can be SILENT and behind), but a warning for
 *  health_worst, the `health` exit status and Nagios. */
#ifndef AGG_HEALTH_H
#define AGG_HEALTH_H

#include "cdsync.pb-c.h"
#include "cds_config.h"
#include "store.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HEALTH_BUCKET_MS (5u * 60u * 1000u)
#define HEALTH_FLUSH_MS_DEFAULT 5000u  /* heartbeats held at most 5 s */

typedef enum {
    HEALTH_OK = 0,
    HEALTH_SKEWED,
    HEALTH_LAGGING,
    HEALTH_REJECTING,
    HEALTH_SILENT,
    HEALTH_AHEAD,
    HEALTH_REVOKED,
    HEALTH__COUNT
} health_state_t;                      /* ordered: later = worse */

typedef struct {
    uint64_t silent_after_ms;          /* no message for this: SILENT */
    uint64_t lagging_after_ms;         /* lag over this: LAGGING */
    double rejecting_ratio;            /* rejected share in the last hour */
    uint64_t rejecting_min;            /* ... with at least this many */
    uint64_t skewed_after_ms;          /* |clock offset| over this: SKEWED */
    uint64_t metadata_behind_after_ms; /* behind this long: metadata alert */
} health_thresholds_t;

/* One agent's health as computed by health_list. */
typedef struct {
    int64_t id;                        /* agent.id */
    char fpr[64];                      /* key fingerprint */
    char label[128];                   /* enrolment label */
    char commune[256];                 /* org unit name(s), orgunit table */
    char org_units[128];               /* enrolled codes, comma-separated */
    health_state_t state;
    int64_t last_seen_ms;              /* 0: never */
    int64_t enrolled_at_ms;
    int64_t revoked_at_ms;             /* 0: not revoked */
    uint64_t applied_seq;
    int64_t last_batch_ms, last_heartbeat_ms; /* 0: never */
    uint64_t queue_depth;              /* last heartbeat */
    uint64_t oldest_pending_ms;        /* last heartbeat, as reported */
    uint64_t bytes_pending;
    uint64_t reported_acked_seq;
    uint64_t send_errors;
    char version[32];
    uint64_t metadata_version;         /* in use at the agent (heartbeat),
                                        * 0: its configured files */
    uint64_t metadata_latest;          /* newest published (store) */
    int64_t metadata_behind_since_ms;  /* 0: not behind; else see above */
    uint64_t metadata_behind_ms;       /* now - metadata_behind_since_ms */
    bool metadata_alert;               /* behind > metadata_behind_after_ms */
    int64_t clock_offset_ms;           /* agent clock - ours, last heartbeat
                                        * or batch */
    uint64_t inferred_lag_ms;          /* last batch */
    uint64_t lag_ms;                   /* as used for LAGGING, see above */
    uint64_t accepted_total, rejected_total, refused_total;
    uint64_t batches_total, heartbeats_total;
    uint64_t accepted_hour, rejected_hour, accepted_day, rejected_day;
    int last_reject_code;              /* 0: none */
    char last_reject_message[256];
    int64_t last_reject_ms;
} health_agent_t;

typedef struct health health_t;

/* Prepare the statements on store's connection (borrowed; must outlive
 * it). Works on a read-only store for health_list. NULL on failure. */
health_t *health_new(store_t *store);
/* Finalize; sets *self_p to NULL. Safe on NULL. */
void health_destroy(health_t **self_p);

/* Defaults: silent 5 min, lagging 1 h, ratio 0.5, min 5, skewed 5 min,
 * metadata behind a day. */
void health_thresholds_default(health_thresholds_t *th);
/* "OK", "LAGGING", ... Borrowed. */
const char *health_state_name(health_state_t s);
/* 0 ok, 1 warning (SKEWED, LAGGING, REJECTING), 2 critical (SILENT,
 * AHEAD, REVOKED). */
int health_severity(health_state_t s);

/* Record one batch of agent_id in the caller's transaction: applied and
 * rejected new updates, inferred lag, last rejection (code 0: none), and
 * when has_offset its clock offset (sent_at_ms - now_ms).
 * CDS_OK or a database error code. */
int health_note_batch(health_t *self, int64_t agent_id, uint64_t now_ms,
                      uint64_t applied, uint64_t rejected, int last_code,
                      const char *last_message, uint64_t inferred_lag_ms,
                      bool has_offset, int64_t clock_offset_ms);
/* Hold a verified heartbeat in memory (clock offset = hb->clock_ms -
 * now_ms; it also counts as seen) until health_flush. CDS_OK or
 * CDS_ENOMEM. */
int health_note_heartbeat(health_t *self, int64_t agent_id, uint64_t now_ms,
                          const Cdsync__Heartbeat *hb);
/* Hold agent.last_seen_ms = now_ms (a verified heartbeat) until
 * health_flush. CDS_OK or CDS_ENOMEM. */
int health_note_seen(health_t *self, int64_t agent_id, uint64_t now_ms);
/* Write every held heartbeat and last-seen time in one transaction of its
 * own (no transaction may be open), then forget them; on failure they
 * are kept for the next flush. CDS_OK (also when nothing is held) or a
 * database error (logged). */
int health_flush(health_t *self);
/* Agents with something held. */
size_t health_held(const health_t *self);
/* Milliseconds until health_flush is due at now_ms: 0 due, -1 nothing
 * held. */
long health_flush_due_ms(const health_t *self, uint64_t now_ms);
/* Hold heartbeats at most ms (0: flush at every server step). */
void health_set_flush_ms(health_t *self, uint64_t ms);
/* The hold for a SILENT threshold: at least four flushes per
 * silent_after_ms, at most HEALTH_FLUSH_MS_DEFAULT apart, so a live agent
 * never looks SILENT because its heartbeats wait in memory. */
uint64_t health_flush_ms_for(uint64_t silent_after_ms);
/* The thresholds of [aggregator] in cfg (silent_after_ms,
 * lagging_after_ms, rejecting_min, max_clock_skew_ms: numbers >= 0;
 * rejecting_ratio 0..1; metadata_behind_after_ms, a number >= 0, the
 * default when absent). CDS_OK, or CDS_EUSAGE with err naming the key
 * and its value. */
int health_thresholds_parse(const cds_config_t *cfg, health_thresholds_t *th,
                            char *err, size_t errlen);
/* Record a whole-message refusal of an enrolled agent's message. */
int health_note_refused(health_t *self, int64_t agent_id, uint64_t now_ms,
                        int code, const char *message);
/* Record a per-update rejection applied later by `rejects retry`. */
int health_note_retried(health_t *self, int64_t agent_id, uint64_t now_ms);

/* Buckets numbered below this at now_ms are older than the windows read
 * (a day and one bucket): pruned (retention.h). */
int64_t health_bucket_cutoff(uint64_t now_ms);

/* Every enrolled agent with its state at now_ms, worst first (severity,
 * then lag, then label). *out is malloc'd (caller frees), *n entries.
 * CDS_OK or a database / memory error. */
int health_list(health_t *self, const health_thresholds_t *th,
                uint64_t now_ms, health_agent_t **out, size_t *n);
/* Whole-message rejections by reason code, from the reject table:
 * counts[code] for code < n_counts. CDS_OK or a database error. */
int health_refused_by_code(health_t *self, uint64_t *counts,
                           size_t n_counts);
/* Highest severity in list (0 when empty); a metadata alert counts as a
 * warning (1). */
int health_worst(const health_agent_t *list, size_t n);
/* Agents of list (not revoked) behind the newest published metadata
 * version; *alerts (when not NULL) receives how many of them carry a
 * metadata alert. */
size_t health_metadata_behind(const health_agent_t *list, size_t n,
                              size_t *alerts);

/* list as a JSON array (new reference; NULL on memory failure). */
json_t *health_to_json(const health_agent_t *list, size_t n,
                       uint64_t now_ms);
/* list as one aligned line per agent (commune, state, last seen "3 min
 * ago", queue, lag, clock offset "clock 2 h 3 min ahead", metadata
 * version "1, behind 3 h (current 2)", rejects in the hour, last reason),
 * then a summary line of the metadata versions ("metadata: version 2
 * published 3 h ago; 9 agents on it, 2 behind (1 for more than 1 d:
 * ALERT)"). */
void health_print(FILE *out, const health_agent_t *list, size_t n,
                  uint64_t now_ms, const health_thresholds_t *th);
/* list as a Nagios plugin answer (docs/OPERATIONS.md "Nagios"): first
 * line "CDSYNC CRITICAL - 2 silent, 1 revoked | ok=8;;; skewed=0;;; ..."
 * (status word of the worst severity, the non-OK states counted, critical
 * first, SILENT before REVOKED, then "1 behind the current metadata
 * version for too long" for the metadata alerts; perfdata with one label
 * per state), then one line per agent,
 * worst first. '|' in names is printed as '/' (Nagios splits on it).
 * Returns the plugin exit status: health_worst (0, 1, 2). */
int health_nagios(FILE *out, const health_agent_t *list, size_t n,
                  uint64_t now_ms);

#endif
