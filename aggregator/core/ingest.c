/*  ingest: one message from an agent, verified, authorised and applied.
 *  See ingest.h for the order of checks and the invariant. */
#include "ingest.h"
#include "ingest_decide.h"
#include "ingest_reply.h"
#include "metaserve.h"

#include "approval.h"

#include "cds_codec.h"
#include "commitmark.h"
#include "cds_err.h"
#include "cds_hlc.h"
#include "cds_log.h"
#include "cds_orgunit.h"
#include "metaver.h"
#include "cds_period.h"
#include "cds_util.h"
#include "health.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_LEN INGEST_MESSAGE_LEN     /* one rejection message */
#define SKEW_LOG_SLOTS 64              /* agents remembered for log pacing */
#define RECOVER_SLOTS 256              /* agents remembered resending */
#define NOTICE_SLOTS 256               /* revoked keys remembered (notices) */

struct ingest {
    store_t *store;                    /* borrowed */
    const cds_identity_t *id;          /* borrowed: our identity */
    const cds_catalog_t *catalog;      /* borrowed */
    metaver_t *versions;               /* owned; published versions'
                                        * catalogs (metaver.h), read by the
                                        * prepare worker: atomic pointer */
    metaver_t **retired;               /* owned; sets swapped out, kept
                                        * until ingest_destroy (a worker
                                        * may still read one) */
    size_t n_retired;
    health_t *health;                  /* borrowed; NULL: not recorded */
    uint64_t max_skew_ms;              /* effective-stamp bound (ingest.h) */
    commitmark_t *mark;                /* borrowed; NULL: no restore check */
    struct {                           /* last skew log line per agent */
        int64_t agent_id;
        uint64_t at_ms;
    } skew_log[SKEW_LOG_SLOTS];
    struct {                           /* agents resending kept batches */
        int64_t agent_id;              /*   (HelloAnswer.resend_from) */
        uint64_t upto;                 /*   their acked_seq at that hello */
    } recover[RECOVER_SLOTS];
    struct {                           /* last revocation notice per key */
        int64_t agent_id;
        uint64_t at_ms;
    } notice_log[NOTICE_SLOTS];
};

/* A whole-message refusal, before it is recorded (finish_refused). */
typedef struct {
    int code;                          /* reason, CDS_OK: not refused */
    const char *field;                 /* static, or in the msg/prep */
    char message[MSG_LEN];             /* explanation */
    uint64_t seq;                      /* seq concerned, 0 none */
    bool silent;                       /* send no answer at all */
} refusal_t;

/* Per update: the checks that need no database, made by ingest_prepare,
 * in check_update's order; check_update reports them around the org
 * unit's authorisation, which needs the database. */
typedef struct {
    int fields_code;                   /* cds_update_check_fields */
    int content_code;                  /* check_content, if fields passed */
    const char *field;                 /* the failed check's field */
    char *err;                         /* its message (owned), NULL: passed */
    double num;                        /* content passed: its results */
    cds_period_t period;
} prep_update_t;

struct ingest_prep {
    int env_code;                      /* why env is NULL (CDS_ETOOBIG...) */
    Cdsync__Envelope *env;             /* decoded (owned), NULL: refused */
    bool sig_ok;                       /* env's signature verified */
    /* A BATCH (else all zero): */
    Cdsync__Batch *batch;              /* decoded body (owned), NULL: */
    int body_code;                     /*   why it did not decode */
    char why[CDS_WIRE_PATH_LEN];       /*   the field at fault */
    refusal_t shape;                   /* check_batch_shape's refusal */
    uint8_t (*hashes)[CDS_HASH_BYTES]; /* per update (shape passed) */
    uint8_t (*heads)[CDS_HASH_BYTES];  /* chain from prev_head */
    prep_update_t *u;                  /* per update */
    size_t n_u;                        /* entries in u */
    const cds_catalog_t *cat;          /* the catalog the updates were
                                        * checked with (ingest_choose) */
    int64_t meta_version;              /* its published version, 0: the
                                        * configured files */
};

/* State of one message being processed. */
typedef struct {
    const uint8_t *raw;                /* frame as received */
    size_t raw_len;
    uint64_t now_ms;
    Cdsync__Envelope *env;             /* decoded envelope (owned) */
    store_agent_t agent;               /* signer's row, when enrolled */
    ingest_result_t *out;
    refusal_t ref;                     /* whole-message refusal, if any */
    char why[CDS_WIRE_PATH_LEN];       /* body decode: the field at fault */
    bool in_savepoint;                 /* a savepoint is open */
    const char *user_id;               /* CURVE User-Id (auth.h) or NULL */
    uint64_t n_applied, n_rejected;    /* new updates of a batch (health) */
    uint64_t oldest_hlc_ms;            /* oldest new update, 0 none */
    int last_code;                     /* last per-update rejection */
    char last_msg[MSG_LEN];
    char auth_ou[CDS_MAX_CODE + 1];    /* org unit last found known and
                                        * enrolled in this message, "" none */
    int32_t auth_from, auth_to;        /* its lifetime (cds_orgunit.h) */
    ingest_prep_t *prep;               /* the work done without the db */
    bool ours;                         /* signed by our key: our clock */
    bool has_offset;                   /* batch carried sent_at_ms: */
    int64_t offset_ms;                 /*   its clock minus ours */
    int64_t shift_ms;                  /* subtracted from its stamps */
    uint64_t last_eff;                 /* agent's last effective stamp */
    uint64_t stamped_ms;               /* this update's hlc ms - shift */
    uint64_t n_shifted, n_clamped;     /* flagged updates of the batch */
    char skew_msg[MSG_LEN];            /* the last flag, for the log */
    bool locks;                        /* some cell is approved (approval.h):
                                        * look each update up */
    int64_t held_by;                   /* approval locking this update */
} msg_t;

/* The published version of *p's catalog_version is newer than the set
 * the worker had: the writer reloads the set (metaver.h). */
static void refresh_versions(ingest_t *self, msg_t *m);
static void prepare_update(const cds_catalog_t *cat, const cds_update_t *u,
                           uint64_t now_ms, prep_update_t *pu);

ingest_t *
ingest_new(store_t *store, const cds_identity_t *id,
           const cds_catalog_t *catalog)
{
    ingest_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->id = id;
    self->catalog = catalog;
    self->max_skew_ms = INGEST_MAX_FUTURE_MS;
    return self;
}

void
ingest_set_max_skew(ingest_t *self, uint64_t ms)
{
    self->max_skew_ms = ms;
}

const cds_catalog_t *
ingest_choose_catalog(const cds_catalog_t *configured, const metaver_t *set,
                      const char *catalog_version, int64_t *version)
{
    const cds_catalog_t *cat = metaver_find(set, catalog_version, version);
    return cat ? cat : configured;
}

int
ingest_set_versions(ingest_t *self, metaver_t *set)
{
    metaver_t **r = realloc(self->retired,
                            (self->n_retired + 1) * sizeof *r);
    if (!r) {
        metaver_destroy(&set);
        return CDS_ENOMEM;
    }
    self->retired = r;
    metaver_t *old = __atomic_exchange_n(&self->versions, set,
                                         __ATOMIC_ACQ_REL);
    if (old)
        self->retired[self->n_retired++] = old;
    return CDS_OK;
}

int64_t
ingest_versions_latest(const ingest_t *self)
{
    return metaver_latest(__atomic_load_n(&self->versions, __ATOMIC_ACQUIRE));
}

/* A batch names a catalog that is neither a known published version nor
 * the configured one: when a version was published since the set was
 * loaded (`metadata publish` runs in another process), load the set
 * again and redo this batch's catalog checks with it. A failure keeps
 * the checks as made (logged). */
static void
refresh_versions(ingest_t *self, msg_t *m)
{
    ingest_prep_t *p = m->prep;
    const Cdsync__Batch *b = p->batch;
    int64_t latest = 0;
    if (p->meta_version != 0 || !b->catalog_version
        || !b->catalog_version[0] || !self->versions
        || strcmp(b->catalog_version, cds_catalog_version(self->catalog)) == 0
        || store_metadata_latest(self->store, &latest) != CDS_OK
        || latest <= ingest_versions_latest(self))
        return;
    metaver_t *set = NULL;
    int rc = metaver_load(self->store, cds_identity_sign_pk(self->id), &set);
    if (rc == CDS_OK)
        rc = ingest_set_versions(self, set);
    if (rc != CDS_OK) {
        cds_log(CDS_LOG_WARN, "metadata_versions_unloaded", "error=%s",
                cds_strerror(rc));
        return;
    }
    cds_log(CDS_LOG_INFO, "metadata_versions_loaded", "latest=%lld "
            "versions=%zu", (long long) latest, metaver_count(set));
    p->cat = ingest_choose_catalog(self->catalog, set, b->catalog_version,
                                   &p->meta_version);
    for (size_t i = 0; i < p->n_u; i++) {
        cds_update_t u;
        cds_update_from_pb(b->updates[i], &u);
        free(p->u[i].err);
        prepare_update(p->cat, &u, m->now_ms, &p->u[i]);
    }
}

void
ingest_set_catalog(ingest_t *self, const cds_catalog_t *catalog)
{
    self->catalog = catalog;
}

void
ingest_destroy(ingest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ingest_t *self = *self_p;
    metaver_destroy(&self->versions);
    for (size_t i = 0; i < self->n_retired; i++)
        metaver_destroy(&self->retired[i]);
    free(self->retired);
    free(self);
    *self_p = NULL;
}

void
ingest_result_clear(ingest_result_t *r)
{
    free(r->reply);
    memset(r, 0, sizeof *r);
}

/* ---- replies (ingest_reply.h) ------------------------------------------ */

int
ingest_result_retry(ingest_t *self, ingest_result_t *r, int err,
                    uint64_t now_ms)
{
    free(r->reply);
    r->reply = NULL;
    r->reply_len = 0;
    /* Only answer keys whose signature we checked: a retry invites a
     * resend, which is pointless for anyone else. */
    if (!r->verified)
        return CDS_OK;
    /* The group was rolled back: what the agent row said is not known to
     * be committed, so the answer carries no position. */
    return ingest_reply_refusal(self->id, r, NULL,
                                CDSYNC__ACK_STATUS__ACK_RETRY, err,
                                cds_err_describe(err), now_ms);
}

/* ---- whole-message rejection -------------------------------------------- */

static void
log_reject(const msg_t *m, int level)
{
    char fpr[CDS_FPR_LEN] = "-";
    if (m->out->has_peer)
        cds_fingerprint(m->out->peer, fpr);
    cds_log((cds_log_level_t) level, "reject",
            "reason=%s agent=%s kind=%d first=%llu last=%llu seq=%llu "
            "bytes=%zu field=%s message=%s",
            cds_strerror(m->ref.code), fpr, m->out->kind,
            (unsigned long long) m->out->first_seq,
            (unsigned long long) m->out->last_seq,
            (unsigned long long) m->ref.seq, m->raw_len,
            m->ref.field ? m->ref.field : "-", cds_logq(m->ref.message));
}

/* Roll the message back, keep its raw bytes with the reason, log, and
 * build the signed refusal into the result. Returns a db error code or
 * CDS_OK. */
static int
finish_refused(ingest_t *self, msg_t *m)
{
    refusal_t *ref = &m->ref;
    int code = CDS_OK;
    if (m->in_savepoint) {
        code = store_rollback_to(self->store);
        m->in_savepoint = false;
        if (code != CDS_OK)
            return code;
    }
    if (!ref->message[0])
        snprintf(ref->message, sizeof ref->message, "%s",
                 cds_err_describe(ref->code));
    code = store_reject_add_kind(self->store, (int64_t) m->now_ms,
                                 m->out->has_peer ? m->out->peer : NULL,
                                 m->out->kind, ref->code, ref->field,
                                 ref->message, m->out->first_seq,
                                 m->out->last_seq, ref->seq, m->raw,
                                 m->raw_len);
    if (code != CDS_OK)
        return code;
    log_reject(m, ref->code == CDS_EEQUIVOCATION ? CDS_LOG_ERROR
                                                 : CDS_LOG_WARN);
    m->out->outcome = INGEST_REFUSED;
    m->out->code = ref->code;
    snprintf(m->out->message, sizeof m->out->message, "%s", ref->message);
    if (ref->silent)
        return CDS_OK;         /* revoked / wrong connection: no oracle */
    return ingest_reply_refusal(self->id, m->out,
                                m->out->verified ? &m->agent : NULL,
                                CDSYNC__ACK_STATUS__ACK_REFUSED, ref->code,
                                ref->message, m->now_ms)
                   == CDS_OK
               ? CDS_OK
               : CDS_ENOMEM;
}

/* Mark ref refused with code; the caller returns CDS_OK. */
static int
refuse(refusal_t *ref, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
refuse(refusal_t *ref, int code, const char *field, const char *fmt, ...)
{
    ref->code = code;
    ref->field = field;
    ref->message[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ref->message, sizeof ref->message, fmt, ap);
        va_end(ap);
    }
    return CDS_OK;
}

int
ingest_reject_raw(ingest_t *self, int code, const char *message,
                  const uint8_t *raw, size_t len, uint64_t now_ms)
{
    ingest_result_t out = { 0 };
    msg_t m = { .raw = raw, .raw_len = len, .now_ms = now_ms, .out = &out };
    refuse(&m.ref, code, NULL, "%s", message ? message : "");
    int rc = finish_refused(self, &m);
    ingest_result_clear(&out);
    return rc;
}

/* A body that did not decode: name the field path the wire walker found
 * in why (a string with a NUL byte, cds_codec.h) or what else went
 * wrong. why must outlive the refusal (it becomes its field). */
static int
refuse_body(refusal_t *ref, int err, const char *why, const char *what)
{
    if (err == CDS_EMALFORMED && why[0] && strcmp(why, "wire") != 0)
        return refuse(ref, err, why, "%s body: string field %s holds a NUL "
                      "byte", what, why);
    return refuse(ref, err, "body", "%s body does not decode (%s)", what,
                  why[0] ? why : cds_strerror(err));
}

/* ---- per-update validation and apply ------------------------------------- */

/* Names for fields reported by store_log_get (stored text, not static):
 * map back to the static names the ack carries. */
static const char *
field_name(const char *stored)
{
    static const char *const names[] = {
        "org_unit", "indicator", "period", "disagg", "value",
        "comment", "stored_by", "hlc", "seq",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(stored, names[i]) == 0)
            return names[i];
    return "";
}

/* The checks of one update against the catalog and our clock (no
 * database): CDS_OK with *num and *period, or the reason with *field and
 * err. Run by ingest_prepare (prepare_update). */
static int
check_content(const cds_catalog_t *cat, const cds_update_t *u, uint64_t now_ms,
              const char **field, char *err, size_t errlen, double *num,
              cds_period_t *period)
{
    int code = cds_catalog_check_update(cat, u, field, err, errlen);
    if (code != CDS_OK)
        return code;
    /* No clock check: a stamp far ahead is clamped, never refused (the
     * effective stamp, ingest.h); an officer's value is not lost to a
     * commune's wrong clock. */
    (void) now_ms;
    if (cds_period_parse(u->period, period) != CDS_OK) {
        *field = "period";            /* catalog check parsed it already */
        snprintf(err, errlen, "period \"%s\" does not parse", u->period);
        return CDS_EBADPERIOD;
    }
    *num = 0;
    if (!u->deleted) {
        const cds_indicator_t *ind = cds_catalog_find(cat, u->indicator);
        char canon[CDS_MAX_VALUE + 1];
        code = ind ? cds_value_canonical(ind, u->value, canon, sizeof canon,
                                         num, err, errlen)
                   : CDS_EUNKNOWNINDICATOR;
        if (code == CDS_OK && strcmp(canon, u->value) != 0) {
            snprintf(err, errlen, "value \"%.80s\" is not canonical (\"%.80s\")",
                     u->value, canon);
            code = CDS_EBADVALUE;
        }
        if (code != CDS_OK) {
            *field = "value";
            return code;
        }
    }
    return CDS_OK;
}

/* The database-free checks of one update, in check_update's order, into
 * *pu (free pu->err afterwards). Run by ingest_prepare. */
static void
prepare_update(const cds_catalog_t *cat, const cds_update_t *u,
               uint64_t now_ms, prep_update_t *pu)
{
    const char *field = NULL;
    char err[MSG_LEN] = "";
    memset(pu, 0, sizeof *pu);
    pu->fields_code = cds_update_check_fields(u, &field);
    if (pu->fields_code != CDS_OK)
        snprintf(err, sizeof err, "%s: %s", field ? field : "field",
                 cds_err_describe(pu->fields_code));
    else
        pu->content_code = check_content(cat, u, now_ms, &field, err,
                                         sizeof err, &pu->num, &pu->period);
    pu->field = field;
    if (pu->fields_code != CDS_OK || pu->content_code != CDS_OK)
        pu->err = strdup(err);         /* NULL (no memory): message "" */
}

/* A failed check of pu: code with *field and err. */
static int
prepared_failure(const prep_update_t *pu, int code, const char **field,
                 char *err, size_t errlen)
{
    *field = pu->field;
    snprintf(err, errlen, "%s", pu->err ? pu->err : "");
    return code;
}

/* Org unit known and enrolled for m's agent: CDS_OK, a reason with
 * *field and err, or a negative database error (-code).
 * A commune's batch repeats one org unit: look it up and check the
 * enrolment once per message, not per update (the recursive enrolment
 * query was 46% of ingest instructions, docs/PERFORMANCE.md). Safe: the
 * enrolment cannot change inside the message's transaction. */
static int
authorise_org_unit(ingest_t *self, msg_t *m, const cds_update_t *u,
                   const char **field, char *err, size_t errlen)
{
    if (strcmp(m->auth_ou, u->org_unit) == 0)
        return CDS_OK;
    int32_t from = INT32_MIN, to = INT32_MAX;
    int known = store_orgunit_span(self->store, u->org_unit, &from, &to,
                                   NULL, 0);
    if (known < 0)
        return known;
    if (!known) {
        *field = "org_unit";
        snprintf(err, errlen, "org unit \"%s\" is not known", u->org_unit);
        return CDS_EUNKNOWNORGUNIT;
    }
    int allowed = store_agent_allowed(self->store, m->agent.id, u->org_unit);
    if (allowed < 0)
        return allowed;
    if (!allowed) {
        *field = "org_unit";
        snprintf(err, errlen, "org unit \"%s\" is not enrolled for agent %s",
                 u->org_unit, m->agent.fpr);
        return CDS_ENOTALLOWED;
    }
    snprintf(m->auth_ou, sizeof m->auth_ou, "%s", u->org_unit);
    m->auth_from = from;
    m->auth_to = to;
    return CDS_OK;
}

/* Authorise and validate one update, reporting pu (prepare_update of u)
 * around the org unit's authorisation. CDS_OK (with *num, *period) or
 * the reason with *field and err; negative: database error (-code). */
static int
check_update(ingest_t *self, msg_t *m, const cds_update_t *u,
             const prep_update_t *pu, const char **field, char *err,
             size_t errlen, double *num, cds_period_t *period)
{
    *field = NULL;
    err[0] = '\0';
    if (pu->fields_code != CDS_OK)
        return prepared_failure(pu, pu->fields_code, field, err, errlen);
    int code = authorise_org_unit(self, m, u, field, err, errlen);
    if (code != CDS_OK)
        return code;
    if (pu->content_code != CDS_OK)
        return prepared_failure(pu, pu->content_code, field, err, errlen);
    if (!u->deleted && !cds_orgunit_open_in(m->auth_from, m->auth_to, pu->period.start,
                             pu->period.end)) {
        *field = "period";
        cds_orgunit_closed_msg(u->org_unit, u->period, m->auth_from,
                               m->auth_to, err, errlen);
        return CDS_EUNITCLOSED;
    }
    if (m->locks && !m->ours) {        /* approved period (approval.h) */
        int l = approval_locked(self->store, u->org_unit, u->indicator,
                                u->period, &m->held_by, err, errlen);
        if (l != 0) {
            *field = "period";
            return l < 0 ? l : CDS_ELOCKED;
        }
    }
    *num = pu->num;
    *period = pu->period;
    return CDS_OK;
}

/* ---- effective stamps (ingest.h) --------------------------------------- */

int64_t
ingest_clock_shift(uint64_t sent_at_ms, uint64_t arrival_ms,
                   uint64_t bound_ms)
{
    const uint64_t cap = UINT64_C(1) << 62;    /* keeps d and -d in range */
    if (sent_at_ms == 0)
        return 0;
    uint64_t gap = sent_at_ms > arrival_ms ? sent_at_ms - arrival_ms
                                           : arrival_ms - sent_at_ms;
    if (gap > cap)
        gap = cap;
    if (gap <= bound_ms)
        return 0;
    return sent_at_ms > arrival_ms ? (int64_t) gap : -(int64_t) gap;
}

uint64_t
ingest_effective_hlc(uint64_t hlc, int64_t shift_ms, uint64_t arrival_ms,
                     uint64_t bound_ms, uint64_t prev_eff, ingest_eff_t *how)
{
    uint64_t ms = cds_hlc_ms(hlc), counter = hlc & 0xffffu;
    *how = shift_ms ? INGEST_EFF_SHIFTED : INGEST_EFF_SIGNED;
    if (shift_ms > 0)
        ms = ms > (uint64_t) shift_ms ? ms - (uint64_t) shift_ms : 0;
    else if (shift_ms < 0)
        ms += (uint64_t) -shift_ms;    /* < 2^48 + 2^62: no overflow */
    uint64_t eff = (ms << 16) | counter;
    if (ms > arrival_ms + bound_ms) {
        *how = INGEST_EFF_CLAMPED;
        eff = arrival_ms << 16;
    }
    return eff > prev_eff ? eff : prev_eff + 1;
}

/* "2 h 3 min ahead of" / "behind" the aggregator clock, for ms = theirs
 * minus ours. */
static void
offset_words(char *buf, size_t len, int64_t ms)
{
    char span[48];
    cds_format_span(span, sizeof span,                 /* nearest second */
                    (ms < 0 ? (uint64_t) -ms : (uint64_t) ms) + 500);
    snprintf(buf, len, "%s %s", span, ms < 0 ? "behind" : "ahead of");
}

/* The effective stamp of u (ingest.h), advancing m->last_eff; the flag
 * for its history row into m->skew_msg ("" when none). */
static uint64_t
effective(ingest_t *self, msg_t *m, const cds_update_t *u)
{
    ingest_eff_t how = INGEST_EFF_SIGNED;
    uint64_t eff;
    m->skew_msg[0] = '\0';
    if (m->ours)               /* central corrections: never clamped */
        eff = u->hlc > m->last_eff ? u->hlc : m->last_eff + 1;
    else
        eff = ingest_effective_hlc(u->hlc, m->shift_ms, m->now_ms,
                                   self->max_skew_ms, m->last_eff, &how);
    m->last_eff = eff;
    /* Its time on our clock before the per-agent order raised it: what
     * "old" and the inferred lag are judged on. */
    int64_t t = (int64_t) (cds_hlc_ms(u->hlc) & INT64_MAX) - m->shift_ms;
    m->stamped_ms = t > 0 ? (uint64_t) t : 0;
    char words[80];
    if (how == INGEST_EFF_CLAMPED) {
        offset_words(words, sizeof words,
                     (int64_t) m->stamped_ms - (int64_t) m->now_ms);
        snprintf(m->skew_msg, sizeof m->skew_msg, "clamped: stamped %s the "
                 "aggregator clock%s; time of arrival used", words,
                 m->shift_ms ? " after the clock shift" : "");
        m->n_clamped++;
    } else if (how == INGEST_EFF_SHIFTED) {
        offset_words(words, sizeof words, m->shift_ms);
        snprintf(m->skew_msg, sizeof m->skew_msg, "shifted: agent clock %s "
                 "the aggregator clock; stamp corrected by as much", words);
        m->n_shifted++;
    }
    return eff;
}

/* One log line per agent per INGEST_SKEW_LOG_EVERY_MS when a batch had
 * shifted or clamped stamps, so a wrong clock is seen without flooding. */
static void
log_skew(ingest_t *self, const msg_t *m)
{
    if (!m->n_shifted && !m->n_clamped)
        return;
    size_t slot = (size_t) m->agent.id % SKEW_LOG_SLOTS;
    if (self->skew_log[slot].agent_id == m->agent.id
        && m->now_ms < self->skew_log[slot].at_ms + INGEST_SKEW_LOG_EVERY_MS)
        return;
    self->skew_log[slot].agent_id = m->agent.id;
    self->skew_log[slot].at_ms = m->now_ms;
    char words[80] = "-";
    if (m->has_offset)
        offset_words(words, sizeof words, m->offset_ms);
    cds_log(CDS_LOG_WARN, "clock_skew", "agent=%s offset_ms=%lld "
            "shifted=%llu clamped=%llu message=%s", m->agent.fpr,
            (long long) m->offset_ms, (unsigned long long) m->n_shifted,
            (unsigned long long) m->n_clamped,
            cds_logq(m->n_clamped ? m->skew_msg : words));
}

/* The history-row flags of an applied update's time into err: the skew
 * flag of effective() and, when its (shifted) stamp is older than 30 days,
 * old_timestamp (a commune offline for a month: applied, but an operator
 * can tell late data from fresh; logged). False when there is none. */
static bool
time_flags(const msg_t *m, const cds_update_t *u, char *err, size_t len)
{
    snprintf(err, len, "%s", m->skew_msg);
    if (m->stamped_ms + INGEST_OLD_AFTER_MS >= m->now_ms)
        return err[0] != '\0';
    size_t at = strlen(err);
    snprintf(err + at, len - at, "%sold_timestamp: %llu days before receipt",
             at ? "; " : "",
             (unsigned long long) ((m->now_ms - m->stamped_ms) / 86400000u));
    cds_log(CDS_LOG_WARN, "old_timestamp", "agent=%s seq=%llu message=%s",
            m->agent.fpr, (unsigned long long) u->seq, cds_logq(err));
    return true;
}

/* History row + merge, or history row + rejection, for one new update. */
static int
apply_update(ingest_t *self, msg_t *m, const cds_update_t *u,
             const prep_update_t *pu, const uint8_t hash[CDS_HASH_BYTES],
             const uint8_t head[CDS_HASH_BYTES], int64_t batch_id,
             ingest_rejections_t *rej)
{
    const char *field;
    char err[MSG_LEN];
    double num;
    cds_period_t period;
    int code = check_update(self, m, u, pu, &field, err, sizeof err, &num,
                            &period);
    if (code < 0)
        return -code;
    uint64_t eff = effective(self, m, u);
    bool flagged = code == CDS_OK && time_flags(m, u, err, sizeof err);
    int rc = store_log_add_ver(self->store, m->agent.id, batch_id, u, eff,
                               hash, head, code,
                               code ? (field ? field : "")
                                    : (flagged ? "hlc" : NULL),
                               code || flagged ? err : NULL,
                               (int64_t) m->now_ms, m->prep->meta_version);
    if (rc != CDS_OK)
        return rc;
    uint64_t hlc_ms = m->stamped_ms;
    if (!m->oldest_hlc_ms || hlc_ms < m->oldest_hlc_ms)
        m->oldest_hlc_ms = hlc_ms;
    if (code == CDS_ELOCKED)           /* kept for an admin's answer */
        rc = approval_hold(self->store, m->agent.id, u, m->held_by,
                           (int64_t) m->now_ms);
    if (rc != CDS_OK)
        return rc;
    if (code != CDS_OK) {
        m->n_rejected++;
        m->last_code = code;
        snprintf(m->last_msg, sizeof m->last_msg, "%s", err);
        ingest_rejections_add(rej, u->seq, code, field, err);
        return CDS_OK;
    }
    m->n_applied++;
    return store_merge_eff(self->store, u, eff, num, m->agent.sign_pk,
                           m->agent.id, period.start, period.end,
                           (int64_t) m->now_ms);
}

/* ---- batch ---------------------------------------------------------------- */

/* Counts, seqs and head sizes of a BATCH signed in env (no database: run
 * by ingest_prepare). CDS_OK or refuses ref. */
static int
check_batch_shape(const Cdsync__Envelope *env, const Cdsync__Batch *b,
                  refusal_t *ref)
{
    if (b->version != CDS_PROTOCOL_VERSION)
        return refuse(ref, CDS_EVERSION, "version", "batch version %u",
                      b->version);
    if (b->agent.len != CDS_PK_BYTES
        || sodium_memcmp(b->agent.data, env->signer.data, CDS_PK_BYTES))
        return refuse(ref, CDS_EKEYMISMATCH, "agent",
                      "batch names another key than its signer");
    if (b->n_updates > CDS_MAX_BATCH_UPDATES)
        return refuse(ref, CDS_ETOOBIG, "updates", "%zu updates > %d",
                      b->n_updates, CDS_MAX_BATCH_UPDATES);
    int vrc = cds_check_version_str(b->catalog_version);
    if (vrc != CDS_OK)
        return refuse(ref, vrc, "catalog_version", "catalog_version must be "
                      "printable ASCII of at most %d bytes",
                      CDS_MAX_VERSION_STR);
    if (b->first_seq == 0 || b->last_seq < b->first_seq
        || b->last_seq - b->first_seq + 1 != b->n_updates)
        return refuse(ref, CDS_EBADSEQ, "first_seq",
                      "range %llu..%llu with %zu updates",
                      (unsigned long long) b->first_seq,
                      (unsigned long long) b->last_seq, b->n_updates);
    for (size_t i = 0; i < b->n_updates; i++)
        if (b->updates[i]->seq != b->first_seq + i) {
            ref->seq = b->updates[i]->seq;
            return refuse(ref, CDS_EBADSEQ, "seq",
                          "update %zu has seq %llu, expected %llu", i,
                          (unsigned long long) b->updates[i]->seq,
                          (unsigned long long) (b->first_seq + i));
        }
    if (b->prev_head.len != CDS_HASH_BYTES || b->head.len != CDS_HASH_BYTES)
        return refuse(ref, CDS_EMALFORMED, "head",
                      "prev_head and head must be %d bytes", CDS_HASH_BYTES);
    return CDS_OK;
}

/* Head after seq (0: zeros; N: applied head; else the stored one). */
static int
head_at(ingest_t *self, msg_t *m, uint64_t seq, uint8_t out[CDS_HASH_BYTES])
{
    if (seq == 0) {
        memset(out, 0, CDS_HASH_BYTES);
        return CDS_OK;
    }
    if (seq == m->agent.applied_seq) {
        memcpy(out, m->agent.applied_head, CDS_HASH_BYTES);
        return CDS_OK;
    }
    uint8_t hash[CDS_HASH_BYTES];
    int status;
    return store_log_get(self->store, m->agent.id, seq, hash, out, &status,
                         NULL, 0, NULL, 0);
}

/* The rejection recorded for an already processed seq, if any, goes into
 * the ack again: the first ack may have been lost. */
static int
old_rejection(ingest_t *self, msg_t *m, uint64_t seq,
              ingest_rejections_t *rej)
{
    uint8_t hash[CDS_HASH_BYTES], head[CDS_HASH_BYTES];
    char field[32], message[MSG_LEN];
    int status;
    int rc = store_log_get(self->store, m->agent.id, seq, hash, head, &status,
                           field, sizeof field, message, sizeof message);
    if (rc == CDS_OK && status != CDS_OK)
        ingest_rejections_add(rej, seq, status, field_name(field), message);
    return rc;
}

/* A kept batch resent after a restore (restored_hello): its sent_at_ms
 * is when it was first sent, not now, so it says nothing of the agent's
 * clock; its stamps were made on the corrected clock and are used as
 * signed (docs/RELIABILITY.md "Resend from"). */
static bool
resent(const ingest_t *self, const msg_t *m, const Cdsync__Batch *b)
{
    size_t slot = (size_t) m->agent.id % RECOVER_SLOTS;
    return self->recover[slot].agent_id == m->agent.id
           && b->last_seq <= self->recover[slot].upto;
}

/* Apply the new part N+1..last and advance the agent. */
static int
apply_batch(ingest_t *self, msg_t *m, const Cdsync__Batch *b,
            ingest_rejections_t *rej)
{
    const ingest_prep_t *p = m->prep;
    int64_t batch_id;
    m->has_offset = b->sent_at_ms != 0;
    m->offset_ms = ingest_clock_shift(b->sent_at_ms, m->now_ms, 0);
    m->ours = sodium_memcmp(m->agent.sign_pk, cds_identity_sign_pk(self->id),
                            CDS_PK_BYTES) == 0;
    m->shift_ms = m->ours || resent(self, m, b)
                      ? 0 : ingest_clock_shift(b->sent_at_ms, m->now_ms,
                                               self->max_skew_ms);
    m->last_eff = m->agent.last_eff_hlc;
    int any = m->ours ? 0 : approval_any(self->store);
    if (any < 0)
        return -any;
    m->locks = any > 0;
    refresh_versions(self, m);
    int rc = store_batch_add_shift(self->store, m->agent.id, b->first_seq,
                                   b->last_seq, (int64_t) m->now_ms,
                                   m->shift_ms, m->raw, m->raw_len,
                                   &batch_id);
    for (size_t i = 0; rc == CDS_OK && i < b->n_updates; i++) {
        cds_update_t u;
        cds_update_from_pb(b->updates[i], &u);
        if (u.seq <= m->agent.applied_seq)
            rc = old_rejection(self, m, u.seq, rej);
        else
            rc = apply_update(self, m, &u, &p->u[i], p->hashes[i],
                              p->heads[i], batch_id, rej);
    }
    if (rc == CDS_OK)
        rc = store_agent_advance_eff(self->store, m->agent.id, b->last_seq,
                                     p->heads[b->n_updates - 1], m->last_eff);
    if (rc == CDS_OK)
        log_skew(self, m);     /* may still roll back: a retry logs again */
    return rc;
}

/* The stored rows ingest_decide asks for (ingest_decide.h) into *st:
 * overlap hashes in *buf / *found (the caller frees them), the head
 * before the batch in prev. CDS_OK or a database error. */
static int
gather_stored(ingest_t *self, msg_t *m, const ingest_decide_agent_t *a,
              const ingest_decide_batch_t *db, ingest_decide_stored_t *st,
              uint8_t **buf, bool **found, uint8_t prev[CDS_HASH_BYTES])
{
    uint8_t hash[CDS_HASH_BYTES], head[CDS_HASH_BYTES];
    int status, rc;
    size_t n = ingest_decide_overlap(a, db);
    if (n > 0) {               /* a resend: rare, so allocated */
        *buf = malloc(n * CDS_HASH_BYTES);
        *found = calloc(n, sizeof **found);
        if (!*buf || !*found)
            return CDS_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            rc = store_log_get(self->store, m->agent.id, db->first_seq + i,
                               *buf + i * CDS_HASH_BYTES, head, &status,
                               NULL, 0, NULL, 0);
            if (rc != CDS_OK && rc != CDS_ENOTFOUND)
                return rc;
            (*found)[i] = rc == CDS_OK;
        }
        st->overlap = *buf;
        st->overlap_found = *found;
    }
    uint64_t seq = ingest_decide_prev_seq(a, db);
    if (seq == 0)
        return CDS_OK;
    rc = store_log_get(self->store, m->agent.id, seq, hash, prev, &status,
                       NULL, 0, NULL, 0);
    if (rc != CDS_OK && rc != CDS_ENOTFOUND)
        return rc;
    st->prev_head = rc == CDS_OK ? prev : NULL;
    return CDS_OK;
}

/* Carry out v: answer, refuse m, or apply and ack. */
static int
act(ingest_t *self, msg_t *m, const Cdsync__Batch *b,
    const ingest_verdict_t *v, ingest_rejections_t *rej)
{
    int rc = CDS_OK;
    switch (v->decision) {
    case INGEST_DECIDE_GAP:
        return ingest_reply_ack(self->id, m->out, CDSYNC__ACK_STATUS__ACK_GAP,
                                v->acked_seq, v->acked_head, CDS_OK, "gap",
                                NULL, m->now_ms);
    case INGEST_DECIDE_EQUIVOCATION:
        m->ref.seq = v->reject_seq;
        return refuse(&m->ref, CDS_EEQUIVOCATION, v->field,
                      "seq %llu resent with other content; stored value "
                      "kept", (unsigned long long) v->reject_seq);
    case INGEST_DECIDE_CHAIN_BROKEN:
        if (strcmp(v->field, "prev_head") == 0)
            return refuse(&m->ref, CDS_ECHAIN, v->field,
                          "prev_head does not match our head at seq %llu",
                          (unsigned long long) v->chain_seq);
        return refuse(&m->ref, CDS_ECHAIN, v->field,
                      "head does not match the updates' chain");
    case INGEST_DECIDE_REACK:  /* the first ack may have been lost */
        for (uint64_t s = b->first_seq; rc == CDS_OK && s <= b->last_seq; s++)
            rc = old_rejection(self, m, s, rej);
        break;
    case INGEST_DECIDE_APPLY:
        rc = apply_batch(self, m, b, rej);
        break;
    }
    if (rc != CDS_OK)
        return rc;
    return ingest_reply_ack(self->id, m->out, CDSYNC__ACK_STATUS__ACK_OK,
                            v->acked_seq, v->acked_head, CDS_OK, "", rej,
                            m->now_ms);
}

/* Decide (ingest_decide.h) and act on a verified, well-shaped batch
 * (steps 1-3 of PROTOCOL.md "Aggregator: applying a batch"). */
static int
decide_batch(ingest_t *self, msg_t *m, const Cdsync__Batch *b,
             ingest_rejections_t *rej)
{
    const ingest_prep_t *p = m->prep;
    ingest_decide_agent_t a = { .applied_seq = m->agent.applied_seq,
                                .applied_head = m->agent.applied_head };
    ingest_decide_batch_t db = {
        .first_seq = b->first_seq, .count = b->n_updates,
        .prev_head = b->prev_head.data, .head = b->head.data,
        .hashes = p->hashes[0], .heads = p->heads[0] };
    ingest_decide_stored_t st = { 0 };
    uint8_t *buf = NULL, prev[CDS_HASH_BYTES];
    bool *found = NULL;
    ingest_verdict_t v;
    int rc = gather_stored(self, m, &a, &db, &st, &buf, &found, prev);
    if (rc == CDS_OK) {
        ingest_decide(&a, &db, &st, &v);
        rc = act(self, m, b, &v, rej);
    }
    free(buf);
    free(found);
    return rc;
}

static int
handle_batch(ingest_t *self, msg_t *m)
{
    const ingest_prep_t *p = m->prep;
    const Cdsync__Batch *b = p->batch;
    if (!b)
        return refuse_body(&m->ref, p->body_code, p->why, "batch");
    m->out->first_seq = b->first_seq;
    m->out->request_id = b->request_id;
    m->out->last_seq = b->last_seq;
    if (p->shape.code != CDS_OK) {
        m->ref = p->shape;
        return CDS_OK;
    }
    ingest_rejections_t rej;
    int rc = ingest_rejections_init(&rej, b->n_updates);
    if (rc == CDS_OK)
        rc = decide_batch(self, m, b, &rej);
    ingest_rejections_fini(&rej);
    return rc;
}

/* ---- hello and heartbeat ------------------------------------------------- */

/* Compare each probed (seq, head) <= applied with our chain. */
static int
probe(ingest_t *self, msg_t *m, const Cdsync__Hello *h, uint64_t *matched,
      uint64_t *mismatch)
{
    *matched = *mismatch = 0;
    for (size_t i = 0; i < h->n_probe; i++) {
        const Cdsync__ChainPoint *p = h->probe[i];
        if (p->seq == 0 || p->seq > m->agent.applied_seq)
            continue;
        uint8_t ours[CDS_HASH_BYTES];
        int rc = head_at(self, m, p->seq, ours);
        if (rc != CDS_OK && rc != CDS_ENOTFOUND)
            return rc;
        bool same = rc == CDS_OK && p->head.len == CDS_HASH_BYTES
                    && sodium_memcmp(ours, p->head.data, CDS_HASH_BYTES) == 0;
        if (same && p->seq > *matched)
            *matched = p->seq;
        if (!same && (*mismatch == 0 || p->seq < *mismatch))
            *mismatch = p->seq;
    }
    return CDS_OK;
}

/* After a restore (commitmark.h): record what the database lacks and
 * whether the agent resends it; remember the resend (recovering). */
static int
restored_hello(ingest_t *self, msg_t *m, const Cdsync__Hello *h,
               uint64_t *resend_from)
{
    uint64_t lost_first, lost_last;
    commitmark_hello_t ch = { h->acked_seq, h->acked_head.data,
                              h->acked_head.len, h->kept_from,
                              h->kept_prev_head.data, h->kept_prev_head.len };
    *resend_from = 0;
    if (!self->mark)
        return CDS_OK;
    int rc = commitmark_hello_kept(self->mark, &m->agent, &ch,
                                   (int64_t) m->now_ms, &lost_first,
                                   &lost_last, resend_from);
    if (rc == CDS_OK && *resend_from) {
        size_t slot = (size_t) m->agent.id % RECOVER_SLOTS;
        self->recover[slot].agent_id = m->agent.id;
        self->recover[slot].upto = h->acked_seq;
    }
    return rc;
}

static int
handle_hello(ingest_t *self, msg_t *m)
{
    int err = CDS_OK;
    Cdsync__Hello *h = cds_msg_decode_why(&cdsync__hello__descriptor,
                                          m->env->body.data,
                                          m->env->body.len, &err, m->why,
                                          sizeof m->why);
    if (!h)
        return refuse_body(&m->ref, err, m->why, "hello");
    m->out->request_id = h->request_id;
    uint64_t matched = 0, mismatch = 0;
    int rc = CDS_OK;
    int vrc = cds_check_version_str(h->agent_version);
    if (h->version != CDS_PROTOCOL_VERSION)
        refuse(&m->ref, CDS_EVERSION, "version", "hello version %u", h->version);
    else if (vrc != CDS_OK)
        refuse(&m->ref, vrc, "agent_version", "agent_version must be printable "
               "ASCII of at most %d bytes", CDS_MAX_VERSION_STR);
    else if (h->agent.len != CDS_PK_BYTES
             || sodium_memcmp(h->agent.data, m->env->signer.data,
                              CDS_PK_BYTES))
        refuse(&m->ref, CDS_EKEYMISMATCH, "agent",
               "hello names another key than its signer");
    else if (h->n_probe > CDS_MAX_PROBE)
        refuse(&m->ref, CDS_ETOOBIG, "probe", "%zu probe points > %d", h->n_probe,
               CDS_MAX_PROBE);
    else
        rc = probe(self, m, h, &matched, &mismatch);
    uint64_t resend_from = 0;
    if (rc == CDS_OK && !m->ref.code)
        rc = restored_hello(self, m, h, &resend_from);
    int64_t latest = 0;
    if (rc == CDS_OK && !m->ref.code)
        rc = store_metadata_latest(self->store, &latest);
    if (rc == CDS_OK && !m->ref.code)
        rc = ingest_reply_hello(self->id, m->out, m->agent.applied_seq,
                                m->agent.applied_head, matched, mismatch,
                                resend_from, CDS_OK, "", (uint64_t)latest,
                                m->now_ms);
    cds_msg_free(h);
    return rc;
}

/* Record the agent's figures (health.h) and answer, so the agent knows
 * the link works both ways. */
static int
handle_heartbeat(ingest_t *self, msg_t *m)
{
    int err = CDS_OK;
    Cdsync__Heartbeat *h = cds_msg_decode_why(&cdsync__heartbeat__descriptor,
                                              m->env->body.data,
                                              m->env->body.len, &err, m->why,
                                              sizeof m->why);
    if (!h)
        return refuse_body(&m->ref, err, m->why, "heartbeat");
    uint64_t request_id = h->request_id;
    int vrc = cds_check_version_str(h->agent_version);
    if (vrc != CDS_OK) {
        cds_msg_free(h);
        return refuse(&m->ref, vrc, "agent_version", "agent_version must be "
                      "printable ASCII of at most %d bytes",
                      CDS_MAX_VERSION_STR);
    }
    bool mine = h->agent.len == CDS_PK_BYTES
                && sodium_memcmp(h->agent.data, m->env->signer.data,
                                 CDS_PK_BYTES) == 0;
    int rc = mine && self->health
                 ? health_note_heartbeat(self->health, m->agent.id,
                                         m->now_ms, h)
                 : CDS_OK;
    cds_msg_free(h);
    if (rc != CDS_OK)
        return rc;
    if (!mine)
        return refuse(&m->ref, CDS_EKEYMISMATCH, "agent",
                      "heartbeat names another key than its signer");
    int64_t latest = 0;                /* a publish reaches the agent here */
    rc = store_metadata_latest(self->store, &latest);
    return rc != CDS_OK ? rc
         : ingest_reply_heartbeat(self->id, m->out, m->agent.applied_seq,
                                  request_id, (uint64_t)latest, m->now_ms);
}

/* The scoped, signed metadata bundle (metaserve.h). What the aggregator
 * cannot send (nothing published, a stored row that does not verify,
 * over the bound) is answered with the error and logged; a database
 * error fails the message like any other. */
static int
handle_metadata(ingest_t *self, msg_t *m)
{
    int err = CDS_OK;
    Cdsync__MetadataRequest *q = cds_msg_decode_why(
        &cdsync__metadata_request__descriptor, m->env->body.data,
        m->env->body.len, &err, m->why, sizeof m->why);
    if (!q)
        return refuse_body(&m->ref, err, m->why, "metadata request");
    m->out->request_id = q->request_id;
    bool mine = q->agent.len == CDS_PK_BYTES
                && sodium_memcmp(q->agent.data, m->env->signer.data,
                                 CDS_PK_BYTES) == 0;
    uint64_t have = q->have;
    cds_msg_free(q);
    if (!mine)
        return refuse(&m->ref, CDS_EKEYMISMATCH, "agent",
                      "metadata request names another key than its signer");
    uint8_t *bundle = NULL, sig[CDS_SIG_BYTES];
    size_t len = 0;
    uint64_t version = 0;
    char why[INGEST_MESSAGE_LEN] = "";
    int rc = metaserve_bundle(self->store, self->id, m->agent.id,
                              m->out->peer, &bundle, &len, sig, &version,
                              why, sizeof why);
    if (rc != CDS_OK && rc != CDS_ENOTFOUND && rc != CDS_EBADSIG
        && rc != CDS_ETOOBIG && rc != CDS_EMALFORMED)
        return rc;
    cds_log(rc == CDS_OK ? CDS_LOG_INFO : CDS_LOG_ERROR, "metadata_sent",
            "agent=%s version=%llu have=%llu bytes=%zu error=%s why=%s",
            m->agent.fpr, (unsigned long long) version,
            (unsigned long long) have, len,
            rc == CDS_OK ? "-" : cds_strerror(rc), cds_logq(why));
    int src = ingest_reply_metadata(self->id, m->out, bundle, len, sig, rc,
                                    why, m->now_ms);
    free(bundle);
    return src;
}

/* ---- one message ---------------------------------------------------------- */

/* One health upsert per message, after it settled, in the same
 * transaction: a refusal of an enrolled key, or a batch's new updates. */
static int
note_health(ingest_t *self, msg_t *m)
{
    if (!self->health || !m->agent.id)
        return CDS_OK;
    if (m->ref.code)
        return health_note_refused(self->health, m->agent.id, m->now_ms,
                                   m->ref.code, m->ref.message);
    if (m->out->kind != CDSYNC__KIND__KIND_BATCH
        || m->n_applied + m->n_rejected == 0)
        return CDS_OK;
    uint64_t lag = m->oldest_hlc_ms && m->oldest_hlc_ms < m->now_ms
                       ? m->now_ms - m->oldest_hlc_ms : 0;
    return health_note_batch(self->health, m->agent.id, m->now_ms,
                             m->n_applied, m->n_rejected, m->last_code,
                             m->last_msg, lag, m->has_offset, m->offset_ms);
}

/* Size, envelope (decoded by ingest_prepare), connection, kind. CDS_OK or
 * refuses m (no database access). */
static int
open_envelope(msg_t *m)
{
    if (m->raw_len > CDS_MAX_MSG_BYTES)
        return refuse(&m->ref, CDS_ETOOBIG, "frame", "%zu bytes > %u",
                      m->raw_len, CDS_MAX_MSG_BYTES);
    m->env = m->prep->env;
    if (!m->env)
        return refuse(&m->ref, m->prep->env_code, "envelope",
                      "envelope does not decode (%s)",
                      cds_strerror(m->prep->env_code));
    m->out->kind = (int) m->env->kind;
    m->out->has_peer = true;
    memcpy(m->out->peer, m->env->signer.data, CDS_PK_BYTES);
    /* First, before anything could be answered: a message claiming a
     * signer that is not the CURVE connection's owner gets nothing back,
     * whatever else is wrong with it (bad signature, unknown key...).
     * Else a forger would receive a refusal signed for the agent it
     * named: an oracle, and noise in that agent's receipts. */
    char fpr[CDS_FPR_LEN];
    cds_fingerprint(m->out->peer, fpr);
    if (m->user_id && strcmp(m->user_id, fpr) != 0) {
        m->ref.silent = true;
        return refuse(&m->ref, CDS_EKEYMISMATCH, "signer",
                      "claims signer %s but was sent over a connection "
                      "authenticated as %s", fpr,
                      m->user_id[0] ? m->user_id : "(none)");
    }
    if (m->env->kind != CDSYNC__KIND__KIND_HELLO
        && m->env->kind != CDSYNC__KIND__KIND_BATCH
        && m->env->kind != CDSYNC__KIND__KIND_HEARTBEAT
        && m->env->kind != CDSYNC__KIND__KIND_METADATA_REQUEST)
        return refuse(&m->ref, CDS_EMALFORMED, "kind",
                      "kind %d is not sent to an aggregator",
                      (int) m->env->kind);
    return CDS_OK;
}

/* True when the revoked agent of m gets a Notice now: at most one per
 * INGEST_NOTICE_EVERY_MS per key (slots by agent id: two keys sharing a
 * slot may each get one more, still bounded by their own traffic). */
static bool
notice_due(ingest_t *self, const msg_t *m)
{
    size_t slot = (size_t) m->agent.id % NOTICE_SLOTS;
    if (self->notice_log[slot].agent_id == m->agent.id
        && m->now_ms < self->notice_log[slot].at_ms + INGEST_NOTICE_EVERY_MS)
        return false;
    self->notice_log[slot].agent_id = m->agent.id;
    self->notice_log[slot].at_ms = m->now_ms;
    return true;
}

/* A revoked signer is told so, once (ingest.h "Revocation notice"): only
 * over its own authenticated connection (open_envelope checked the
 * signer is the CURVE identity) and only for a message whose signature
 * verifies, so nobody can have a notice sent to another key. The reply
 * is the whole answer: the message itself stays refused and dropped. */
static int
revoked_notice(ingest_t *self, msg_t *m)
{
    if (!m->user_id || !m->prep->sig_ok || !notice_due(self, m))
        return CDS_OK;
    char successor[CDS_FPR_LEN];
    int rc = store_agent_successor(self->store, m->agent.id, successor,
                                   sizeof successor);
    if (rc != CDS_OK)
        return rc;
    /* No memory to seal: the message stays dropped, unanswered. */
    (void) ingest_reply_revoked(self->id, m->out, &m->agent, successor,
                                m->now_ms);
    return CDS_OK;
}

/* Signer enrolled, not revoked, signature valid (checked by
 * ingest_prepare, reported here in its place). */
static int
authenticate(ingest_t *self, msg_t *m)
{
    int rc = store_agent_find(self->store, m->out->peer, &m->agent);
    if (rc == CDS_ENOTFOUND)
        return refuse(&m->ref, CDS_EUNKNOWNKEY, "signer",
                      "key is not enrolled");
    if (rc != CDS_OK)
        return rc;
    if (m->agent.revoked_at_ms != 0) {
        /* Also cuts off a connection opened before the revocation: every
         * message is refused and recorded, and nothing is applied or
         * answered, except one signed Notice now and then. */
        m->ref.silent = true;
        refuse(&m->ref, CDS_EREVOKED, "signer", "key %s was revoked",
               m->agent.fpr);
        return revoked_notice(self, m);
    }
    if (!m->prep->sig_ok)
        return refuse(&m->ref, CDS_EBADSIG, "signature",
                      "signature does not verify for this aggregator");
    /* The signer is the connection's owner: open_envelope checked it. */
    m->out->verified = true;
    /* A heartbeat's last-seen waits in memory with its figures (health.h
     * "Heartbeats"): no synced write per heartbeat. */
    if (self->health && m->env->kind == CDSYNC__KIND__KIND_HEARTBEAT)
        return health_note_seen(self->health, m->agent.id, m->now_ms);
    return store_agent_seen(self->store, m->agent.id, (int64_t) m->now_ms);
}

static int
dispatch(ingest_t *self, msg_t *m)
{
    switch (m->env->kind) {
    case CDSYNC__KIND__KIND_BATCH:
        return handle_batch(self, m);
    case CDSYNC__KIND__KIND_HELLO:
        return handle_hello(self, m);
    case CDSYNC__KIND__KIND_METADATA_REQUEST:
        return handle_metadata(self, m);
    default:
        return handle_heartbeat(self, m);
    }
}

/* The database half of one prepared message: envelope, savepoint,
 * authentication, the kind's handler, then the refusal or the release,
 * and health. CDS_OK or a database error (the caller rolls back). */
static int
settle(ingest_t *self, msg_t *m)
{
    int rc = open_envelope(m);
    if (!m->ref.code) {
        rc = store_savepoint(self->store);
        m->in_savepoint = rc == CDS_OK;
    }
    if (rc == CDS_OK && !m->ref.code)
        rc = authenticate(self, m);
    if (rc == CDS_OK && !m->ref.code)
        rc = dispatch(self, m);
    if (rc == CDS_OK && m->ref.code)
        rc = finish_refused(self, m);
    else if (rc == CDS_OK && m->in_savepoint)
        rc = store_release(self->store);
    if (rc == CDS_OK)
        rc = note_health(self, m);
    return rc;
}

ingest_outcome_t
ingest_message(ingest_t *self, const uint8_t *data, size_t len,
               uint64_t now_ms, ingest_result_t *out)
{
    return ingest_message_as(self, data, len, NULL, now_ms, out);
}

ingest_outcome_t
ingest_message_as(ingest_t *self, const uint8_t *data, size_t len,
                  const char *user_id, uint64_t now_ms, ingest_result_t *out)
{
    return ingest_message_prepared(self, data, len, user_id, now_ms, NULL,
                                   out);
}

ingest_outcome_t
ingest_message_prepared(ingest_t *self, const uint8_t *data, size_t len,
                        const char *user_id, uint64_t now_ms,
                        ingest_prep_t *prep, ingest_result_t *out)
{
    memset(out, 0, sizeof *out);
    ingest_prep_t *own = prep ? NULL : ingest_prepare(self, data, len, now_ms);
    msg_t m = { .raw = data, .raw_len = len, .now_ms = now_ms, .out = out,
                .user_id = user_id, .prep = prep ? prep : own };
    int rc = m.prep ? settle(self, &m) : CDS_ENOMEM;
    ingest_prep_destroy(&own);
    if (rc != CDS_OK) {        /* the caller rolls the whole group back */
        out->outcome = INGEST_FAILED;
        out->code = rc;
        out->message[0] = '\0';
    }
    return out->outcome;
}

/* ---- the database-free half (ingest.h "ingest_prepare") ------------------ */

/* Body, shape, hashes, chain and per-update checks of a BATCH. CDS_OK
 * (what failed is kept in p for its place in the order of checks) or
 * CDS_ENOMEM. */
static int
prepare_batch(const ingest_t *self, ingest_prep_t *p, uint64_t now_ms)
{
    p->batch = cds_msg_decode_why(&cdsync__batch__descriptor,
                                  p->env->body.data, p->env->body.len,
                                  &p->body_code, p->why, sizeof p->why);
    const Cdsync__Batch *b = p->batch;
    if (!b || check_batch_shape(p->env, b, &p->shape) != CDS_OK
        || p->shape.code != CDS_OK)
        return CDS_OK;
    p->hashes = malloc(b->n_updates * sizeof *p->hashes);
    p->heads = malloc(b->n_updates * sizeof *p->heads);
    p->u = calloc(b->n_updates, sizeof *p->u);
    if (!p->hashes || !p->heads || !p->u)
        return CDS_ENOMEM;
    p->n_u = b->n_updates;
    p->cat = ingest_choose_catalog(
        self->catalog, __atomic_load_n(&self->versions, __ATOMIC_ACQUIRE),
        b->catalog_version, &p->meta_version);
    const uint8_t *prev = b->prev_head.data;
    for (size_t i = 0; i < b->n_updates; i++) {
        cds_update_t u;
        cds_update_from_pb(b->updates[i], &u);
        cds_update_hash(&u, p->hashes[i]);
        cds_chain_next(prev, p->hashes[i], p->heads[i]);
        prev = p->heads[i];
        prepare_update(p->cat, &u, now_ms, &p->u[i]);
    }
    return CDS_OK;
}

ingest_prep_t *
ingest_prepare(const ingest_t *self, const uint8_t *data, size_t len,
               uint64_t now_ms)
{
    ingest_prep_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->env_code = len > CDS_MAX_MSG_BYTES
                      ? CDS_ETOOBIG
                      : cds_envelope_decode(data, len, &p->env);
    if (p->env_code != CDS_OK)
        return p;              /* env NULL: refused in open_envelope */
    /* Verified for every decoded envelope, even of a key that turns out
     * unknown: the worker thread has no database to ask first. */
    p->sig_ok = cds_envelope_verify(p->env, cds_identity_sign_pk(self->id))
                == CDS_OK;
    if (p->env->kind == CDSYNC__KIND__KIND_BATCH
        && prepare_batch(self, p, now_ms) != CDS_OK)
        ingest_prep_destroy(&p);
    return p;
}

void
ingest_prep_destroy(ingest_prep_t **p_p)
{
    if (!p_p || !*p_p)
        return;
    ingest_prep_t *p = *p_p;
    cds_msg_free(p->env);
    cds_msg_free(p->batch);
    free(p->hashes);
    free(p->heads);
    for (size_t i = 0; p->u && i < p->n_u; i++)
        free(p->u[i].err);
    free(p->u);
    free(p);
    *p_p = NULL;
}

/* ---- settings and the other entry points --------------------------------- */

void
ingest_set_health(ingest_t *self, health_t *health)
{
    self->health = health;
}

long
ingest_flush_due_ms(const ingest_t *self, uint64_t now_ms)
{
    return self->health ? health_flush_due_ms(self->health, now_ms) : -1;
}

int
ingest_flush(ingest_t *self)
{
    return self->health ? health_flush(self->health) : CDS_OK;
}

void
ingest_set_commitmark(ingest_t *self, commitmark_t *mark)
{
    self->mark = mark;
}

int
ingest_recheck_update(ingest_t *self, const store_agent_t *agent,
                      const cds_update_t *u, uint64_t now_ms,
                      const char **field, char *err, size_t errlen,
                      double *num, cds_period_t *period)
{
    ingest_result_t out = { 0 };
    msg_t m = { .now_ms = now_ms, .out = &out, .agent = *agent };
    int64_t held = 0;
    int any = approval_held_of(self->store, agent->id, u->seq, &held);
    if (any == 1) {                    /* answered with `pending` only */
        *field = "period";
        snprintf(err, errlen, "held value %lld of an approved period: "
                 "answer it with pending accept|refuse", (long long) held);
        return CDS_ELOCKED;
    }
    if (any >= 0)
        any = approval_any(self->store);
    if (any < 0)
        return any;
    m.locks = any > 0;
    m.ours = sodium_memcmp(agent->sign_pk, cds_identity_sign_pk(self->id),
                           CDS_PK_BYTES) == 0;
    prep_update_t pu;
    prepare_update(self->catalog, u, now_ms, &pu);
    int rc = check_update(self, &m, u, &pu, field, err, errlen, num, period);
    free(pu.err);
    return rc;
}

/* The request id of a prepared HELLO, 0 when its body does not decode. */
static uint64_t
hello_request_id(const Cdsync__Envelope *env)
{
    int err = CDS_OK;
    Cdsync__Hello *h = cds_msg_decode(&cdsync__hello__descriptor,
                                      env->body.data, env->body.len, &err);
    uint64_t id = h ? h->request_id : 0;
    cds_msg_free(h);
    return id;
}

int
ingest_busy(ingest_t *self, const uint8_t *data, size_t len,
            const char *user_id, int err, uint64_t now_ms,
            ingest_result_t *out)
{
    memset(out, 0, sizeof *out);
    ingest_prep_t *p = ingest_prepare(self, data, len, now_ms);
    if (!p)
        return CDS_ENOMEM;
    /* user_id: open_envelope refuses a signer that is not the
     * connection's owner, so a forgery gets no ACK_RETRY either. */
    msg_t m = { .raw = data, .raw_len = len, .now_ms = now_ms, .out = out,
                .user_id = user_id, .prep = p };
    int rc = open_envelope(&m);
    if (rc == CDS_OK && !m.ref.code && p->sig_ok) {
        out->verified = true;
        if (m.env->kind == CDSYNC__KIND__KIND_BATCH && p->batch) {
            out->first_seq = p->batch->first_seq;
            out->last_seq = p->batch->last_seq;
            out->request_id = p->batch->request_id;
        } else if (m.env->kind == CDSYNC__KIND__KIND_HELLO)
            out->request_id = hello_request_id(m.env);
        rc = ingest_result_retry(self, out, err, now_ms);
    }
    ingest_prep_destroy(&p);
    return rc;
}
