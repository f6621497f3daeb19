/*  ingest: receive -> verify -> authorise -> apply, for one message from
 *  an agent, inside the caller's open transaction (server.c group commit).
 *
 *  Order of checks (docs/PROTOCOL.md, STYLE.md "Untrusted input"):
 *    size <= CDS_MAX_MSG_BYTES -> cds_envelope_decode (budgeted) ->
 *    claimed signer is the CURVE connection's User-Id (key_mismatch, never
 *    answered) -> kind is HELLO, BATCH or HEARTBEAT -> signer enrolled
 *    (unknown_key) and not revoked (revoked) -> signature for recipient =
 *    our key (bad_signature) -> decode body (budgeted; a string with a NUL
 *    byte is malformed, cds_codec.h) -> body.agent == signer (key_mismatch),
 *    catalog_version / agent_version printable ASCII <= 64 bytes ->
 *    counts and seqs (too_big, bad_seq) -> dedup / gap / equivocation /
 *    chain -> per update: fields, org unit known (unknown_org_unit) and
 *    within an enrolled unit (org_unit_not_allowed), catalog (indicator,
 *    period, value, bounds; the catalog of the published metadata version
 *    the batch names, else the configured one: ingest_set_versions), the
 *    unit existing on a day of the period
 *    unless deleted (org_unit_closed, cds_orgunit_open_in) -> effective
 *    stamp (below) -> history row +
 *    last-writer-wins merge, or a per-update Rejection. A stamp far ahead
 *    is never refused any more (future_timestamp, code 25, is kept for
 *    compatibility but no longer sent): it is clamped and flagged.
 *
 *  Effective stamp (docs/DESIGN.md "Clock skew"): the merge runs on a
 *  stamp computed at the first application of each update, stored beside
 *  the signed hlc (update_log.eff_hlc, datavalue.hlc / signed_hlc):
 *    d = Batch.sent_at_ms - arrival (the agent's clock minus ours; 0 when
 *        sent_at_ms is absent); shift = d when |d| > max_clock_skew_ms,
 *        else 0 (network delay and honest drift never shift);
 *    cand = hlc - shift (ms part; the counter is kept);
 *    cand beyond arrival + max_clock_skew_ms: clamped to arrival (counter
 *        0) and flagged in the history row (field "hlc", "clamped: ...");
 *    eff = max(cand, agent.last_eff_hlc + 1): one agent's later update
 *        always beats its own earlier one and stamps stay unique per agent.
 *  A shifted update is flagged too ("shifted: ..."); batch.clock_shift_ms
 *  keeps the shift so `verify` re-derives every effective stamp from the
 *  signed batches. The aggregator's own key (central corrections) is
 *  neither shifted nor clamped: its clock is ours.
 *
 *  Invariant: each message runs under its own SAVEPOINT; a message that is
 *  refused as a whole is rolled back to it, so it leaves only its reject
 *  row (raw bytes + reason) and never disturbs the other messages of the
 *  group. Garbage (no parseable envelope) gets no answer; a parseable
 *  signer of a HELLO or BATCH gets a signed refusal (ACK_REFUSED or
 *  HelloAnswer.error), except a revoked signer (one signed Notice at most
 *  every INGEST_NOTICE_EVERY_MS, nothing else) or a claimed signer that is
 *  not the connection's CURVE identity (checked before anything else, so
 *  a forgery naming another agent gets nothing at all, whatever else is
 *  wrong with it). Every whole-message rejection is logged once as
 *  event=reject reason=<name> agent=<fingerprint>.
 *
 *  The agent row (enrolment, revocation, applied seq) is read from the
 *  database for every message, so `revoke` takes effect at once and
 *  nothing is cached across a rolled-back group.
 *
 *  One pipeline (docs/DESIGN.md "Path of a batch"): ingest_prepare makes
 *  every check that needs no database, on server.c's worker thread or
 *  inline; the database half reports its results in the order above,
 *  asks ingest_decide.h (pure) what to do with a batch, and has
 *  ingest_reply.h sign the answer. Its one result is ingest_result_t. */
#ifndef AGG_INGEST_H
#define AGG_INGEST_H

#include "cds_catalog.h"
#include "cds_id.h"
#include "cds_period.h"
#include "ingest_result.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default max_clock_skew_ms: the clock offset tolerated without a shift,
 * and how far ahead of arrival an effective stamp may be (was 1 day, and
 * a refusal bound; see the header comment). */
#define INGEST_MAX_FUTURE_MS (5u * 60u * 1000u)
/* A revoked key is sent at most one signed Notice (NOTICE_REVOKED) this
 * often, over its own authenticated connection, for a message whose
 * signature verifies (docs/PROTOCOL.md "Revocation notice"). */
#define INGEST_NOTICE_EVERY_MS (10u * 60u * 1000u)
/* A skew log line at most this often per agent. */
#define INGEST_SKEW_LOG_EVERY_MS (10u * 60u * 1000u)

/* How an effective stamp was obtained (ingest_effective_hlc). */
typedef enum {
    INGEST_EFF_SIGNED = 0,     /* the signed hlc (maybe raised by order) */
    INGEST_EFF_SHIFTED,        /* hlc - the batch's clock shift */
    INGEST_EFF_CLAMPED,        /* too far ahead: arrival time */
} ingest_eff_t;
/* Updates whose hlc is older than this are applied but flagged (history
 * row field "hlc", message "old_timestamp: N days before receipt"). */
#define INGEST_OLD_AFTER_MS (30ull * 24u * 3600u * 1000u)

typedef struct ingest ingest_t;
struct health;                 /* health.h: per-agent health records */


/* New ingester. store, id and catalog are borrowed and must outlive it.
 * NULL on allocation failure. */
ingest_t *ingest_new(store_t *store, const cds_identity_t *id,
                     const cds_catalog_t *catalog);
/* Free; sets *self_p to NULL. Safe on NULL. */
void ingest_destroy(ingest_t **self_p);

/* Process one received frame inside the caller's transaction; fill *out
 * (clear it with ingest_result_clear) and return out->outcome. INGEST_DONE
 * and INGEST_REFUSED leave the transaction intact; INGEST_FAILED means the
 * caller must roll the whole group back and answer it with
 * ingest_result_retry. Runs ingest_prepare itself. */
ingest_outcome_t ingest_message(ingest_t *self, const uint8_t *data,
                                size_t len, uint64_t now_ms,
                                ingest_result_t *out);
/* ingest_message for a frame that came over a CURVE connection whose ZAP
 * User-Id (auth.h: the fingerprint of the agent owning the client key) is
 * user_id: a verified signer with another fingerprint is refused
 * key_mismatch. user_id NULL = no transport identity (tests). A refusal
 * for key_mismatch on the connection or for a revoked signer is recorded
 * but answered with nothing. */
ingest_outcome_t ingest_message_as(ingest_t *self, const uint8_t *data,
                                   size_t len, const char *user_id,
                                   uint64_t now_ms, ingest_result_t *out);

/* The part of ingest that needs no database, in one place, whether done
 * ahead on server.c's worker thread while the writer applies the message
 * before, or inline by ingest_message: the size bound, envelope decoding,
 * the signature, and for a BATCH its body, shape (version, agent, counts,
 * seqs, head sizes), update hashes, the hash chain from prev_head, and
 * each update's field and catalog checks. It keeps results, never
 * answers: ingest_message_prepared reports each result at its place in
 * the order of checks above (an unknown key is refused unknown_key even
 * when its batch is also malformed). Thread-safe against the writer
 * (reads only the identity and the catalog). NULL on allocation failure. */
typedef struct ingest_prep ingest_prep_t;
ingest_prep_t *ingest_prepare(const ingest_t *self, const uint8_t *data,
                              size_t len, uint64_t now_ms);
/* Free what the message did not take; sets *p_p to NULL. Safe on NULL. */
void ingest_prep_destroy(ingest_prep_t **p_p);
/* ingest_message_as with prep from ingest_prepare(data, len, now_ms), or
 * NULL: prepared here. prep is used up in part; destroy it afterwards. */
ingest_outcome_t ingest_message_prepared(ingest_t *self, const uint8_t *data,
                                         size_t len, const char *user_id,
                                         uint64_t now_ms, ingest_prep_t *prep,
                                         ingest_result_t *out);

/* Replace r's reply after the group's transaction failed with err: a
 * verified BATCH gets ACK_RETRY (nothing applied), a HELLO a HelloAnswer
 * with error = err, anything else no answer. CDS_OK or CDS_ENOMEM. */
int ingest_result_retry(ingest_t *self, ingest_result_t *r, int err,
                        uint64_t now_ms);

/* Answer a frame without touching the database (BEGIN failed with err):
 * decode and verify the envelope and fill *out as ingest_result_retry
 * would. Unverifiable frames, and frames whose signer is not user_id (the
 * connection's CURVE User-Id, as for ingest_message_as; NULL: no check),
 * get no answer. */
int ingest_busy(ingest_t *self, const uint8_t *data, size_t len,
                const char *user_id, int err, uint64_t now_ms,
                ingest_result_t *out);

/* Record a frame refused before ingest (wrong number of ZeroMQ frames) in
 * the reject table with its raw bytes, and log it. CDS_OK or db error. */
int ingest_reject_raw(ingest_t *self, int code, const char *message,
                      const uint8_t *raw, size_t len, uint64_t now_ms);

/* Free the reply and zero *r. Safe on a zeroed result. */
void ingest_result_clear(ingest_result_t *r);

/* Record per-agent health (health.h) for every message from now on, in
 * the message's transaction, except heartbeats: held in health's memory
 * until ingest_flush. health is borrowed; NULL stops recording. */
void ingest_set_health(ingest_t *self, struct health *health);
/* Milliseconds until held heartbeats are due to be written at now_ms (0:
 * due, -1: none held). */
long ingest_flush_due_ms(const ingest_t *self, uint64_t now_ms);
/* Write the held heartbeats in a transaction of their own (none may be
 * open). CDS_OK or a database error (logged; kept for the next try). */
int ingest_flush(ingest_t *self);
/* After accept-restore, compare each agent's hello with its applied seq
 * and record acked updates the database lost (commitmark_hello). mark is
 * borrowed; NULL (default) stops it. */
struct commitmark;
void ingest_set_commitmark(ingest_t *self, struct commitmark *mark);
/* max_clock_skew_ms: the bound of the effective-stamp rule (header
 * comment); default INGEST_MAX_FUTURE_MS. */
void ingest_set_max_skew(ingest_t *self, uint64_t ms);
/* Check updates against catalog (borrowed) from now on: a SIGHUP reload
 * (server_set_catalog swaps it where no other thread reads it). */
void ingest_set_catalog(ingest_t *self, const cds_catalog_t *catalog);
/* Published metadata versions (metaver.h): a batch naming the catalog
 * version of one (Batch.catalog_version) is checked against that
 * version's catalog and its history rows record the version number
 * (update_log.meta_version); a batch naming the configured catalog, "",
 * or a version never published is checked against the configured
 * catalog as before (meta_version NULL). Takes set (may be empty); the
 * set it replaces is kept until ingest_destroy, as a prepare running on
 * the worker may still read it. A batch naming an unknown version makes
 * the writer look for a newer publish and load the set again (no SIGHUP
 * needed after `metadata publish`). CDS_OK or CDS_ENOMEM (set freed). */
struct metaver;
int ingest_set_versions(ingest_t *self, struct metaver *set);
/* The highest version of the set in use (0: none). */
int64_t ingest_versions_latest(const ingest_t *self);
/* The catalog a batch naming catalog_version is checked against: the
 * newest published version of set with that catalog (its number in
 * *version), else configured (*version 0). Pure. */
const cds_catalog_t *ingest_choose_catalog(const cds_catalog_t *configured,
                                           const struct metaver *set,
                                           const char *catalog_version,
                                           int64_t *version);
/* The shift of a batch: d = sent_at_ms - arrival_ms when |d| > bound_ms,
 * else 0; 0 when sent_at_ms is 0 (not sent). Pure. */
int64_t ingest_clock_shift(uint64_t sent_at_ms, uint64_t arrival_ms,
                           uint64_t bound_ms);
/* The effective stamp of an update signed hlc, in a batch of shift
 * shift_ms arriving at arrival_ms, after its agent's last effective stamp
 * prev_eff (0: none); *how says which rule gave it. Pure. */
uint64_t ingest_effective_hlc(uint64_t hlc, int64_t shift_ms,
                              uint64_t arrival_ms, uint64_t bound_ms,
                              uint64_t prev_eff, ingest_eff_t *how);
/* Authorise and validate a stored update of agent as ingest would now
 * (org unit known and enrolled, catalog, bounds): CDS_OK with *num and
 * *period, a reason code with *field and err, or a negative database error
 * (-code). Used by `rejects retry` (rejects.h). */
int ingest_recheck_update(ingest_t *self, const store_agent_t *agent,
                          const cds_update_t *u, uint64_t now_ms,
                          const char **field, char *err, size_t errlen,
                          double *num, cds_period_t *period);

#endif
