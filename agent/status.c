/*  status: see status.h. The rejected list is gathered into a jansson
 *  array once and printed either as JSON or as an aligned table. */
#include "status.h"

#include "cds_carry.h"
#include "cds_err.h"
#include "cds_util.h"
#include "livestate.h"
#include "recheck.h"
#include "revocation.h"
#include "daemon_lock.h"

#include <inttypes.h>
#include <jansson.h>
#include <string.h>
#include <sys/statvfs.h>

static int
collect_rejected(const outbox_rejected_t *r, void *arg)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:b, s:i, s:s, "
                          "s:s, s:s, s:I}",
                          "seq", (json_int_t)r->u.seq,
                          "orgunit", r->u.org_unit ? r->u.org_unit : "",
                          "dataelement", r->u.indicator ? r->u.indicator : "",
                          "period", r->u.period ? r->u.period : "",
                          "categoryoptioncombo",
                          r->u.disagg ? r->u.disagg : "",
                          "value", r->u.value ? r->u.value : "",
                          "deleted", r->u.deleted, "code", r->code,
                          "code_name", cds_strerror(r->code),
                          "field", r->field ? r->field : "",
                          "message", r->message ? r->message : "",
                          "rejected_at_ms", (json_int_t)r->rejected_at_ms);
    if (!o || json_array_append_new(arg, o) != 0)
        return CDS_ENOMEM;
    return 0;
}

/* Held values (outbox.h "Held values") into a JSON array. */
typedef struct {
    json_t *arr;
    bool en;                           /* reason in English */
} held_collect_t;

static int
collect_held(const outbox_held_t *h, void *arg)
{
    held_collect_t *c = arg;
    const cds_update_t *u = &h->row->u;
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:b, s:I, s:i, "
                          "s:s, s:s, s:s, s:s, s:s, s:I}",
                          "id", (json_int_t)h->id, "seq", (json_int_t)u->seq,
                          "orgunit", u->org_unit, "dataelement", u->indicator,
                          "period", u->period, "value", u->value,
                          "deleted", u->deleted, "version",
                          (json_int_t)h->version, "code", h->code,
                          "code_name", cds_strerror(h->code),
                          "field", h->field ? h->field : "",
                          "message", h->message ? h->message : "",
                          "reason", recheck_reason_words(h->code, c->en),
                          "suggestion", h->suggestion ? h->suggestion : "",
                          "held_at_ms", (json_int_t)h->held_at_ms);
    if (!o || json_array_append_new(c->arr, o) != 0)
        return CDS_ENOMEM;
    return 0;
}

int
status_held(outbox_t *outbox, bool english, json_t **out)
{
    held_collect_t c = { json_array(), english };
    int rc = c.arr ? outbox_held_list(outbox, collect_held, &c) : CDS_ENOMEM;
    if (rc != CDS_OK)
        json_decref(c.arr);
    *out = rc == CDS_OK ? c.arr : NULL;
    return rc;
}

/* One line per held value: what it is, why, what to do. */
static void
print_held(FILE *out, json_t *held)
{
    size_t i;
    json_t *o;
    json_array_foreach(held, i, o) {
        const char *sug = json_string_value(json_object_get(o, "suggestion"));
        fprintf(out, "  #%" JSON_INTEGER_FORMAT " %s %s %s = %s: %s (%s)",
                json_integer_value(json_object_get(o, "id")),
                json_string_value(json_object_get(o, "orgunit")),
                json_string_value(json_object_get(o, "dataelement")),
                json_string_value(json_object_get(o, "period")),
                json_is_true(json_object_get(o, "deleted"))
                    ? "(delete)"
                    : json_string_value(json_object_get(o, "value")),
                json_string_value(json_object_get(o, "reason")),
                json_string_value(json_object_get(o, "message")));
        if (sug && sug[0])
            fprintf(out, "; suggested / đề xuất: %s", sug);
        fputc('\n', out);
    }
}

/* Print s padded with spaces to width terminal columns. */
static void
pad(FILE *out, const char *s, size_t width)
{
    fputs(s, out);
    for (size_t w = cds_utf8_width(s); w < width; w++)
        fputc(' ', out);
}

static void
print_rejected(FILE *out, json_t *rej)
{
    static const char *const head[] = {"SEQ", "ORGUNIT", "DATAELEMENT",
                                       "PERIOD", "VALUE", "CODE", "MESSAGE"};
    enum { NC = 7 };
    size_t w[NC], i;
    char cell[NC][1200];
    json_t *o;
    for (int c = 0; c < NC; c++)
        w[c] = strlen(head[c]);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            for (int c = 0; c < NC; c++) {
                pad(out, head[c], c == NC - 1 ? 0 : w[c] + 2);
                if (c == NC - 1)
                    fputc('\n', out);
            }
        json_array_foreach(rej, i, o) {
            snprintf(cell[0], sizeof cell[0], "%" JSON_INTEGER_FORMAT,
                     json_integer_value(json_object_get(o, "seq")));
            const char *keys[] = {"orgunit", "dataelement", "period",
                                  "value", "code_name"};
            for (int c = 1; c < 6; c++)
                snprintf(cell[c], sizeof cell[c], "%s",
                         json_string_value(json_object_get(o, keys[c - 1])));
            if (json_is_true(json_object_get(o, "deleted")))
                snprintf(cell[4], sizeof cell[4], "(delete)");
            snprintf(cell[6], sizeof cell[6], "%s: %s",
                     json_string_value(json_object_get(o, "field")),
                     json_string_value(json_object_get(o, "message")));
            for (int c = 0; c < NC; c++) {
                size_t cw = cds_utf8_width(cell[c]);
                if (pass == 0 && cw > w[c])
                    w[c] = cw;
                if (pass == 1)
                    pad(out, cell[c], c == NC - 1 ? 0 : w[c] + 2);
            }
            if (pass == 1)
                fputc('\n', out);
        }
    }
}

#define STATUS_WHY_BYTES 1024

/* One plain sentence for a connection state the transport diagnosed
 * (session.h, session_on_link), or NULL when state is not one. The error
 * is "<endpoint> <detail>". */
static const char *
link_advice(const char *state, const char *error, bool en, char *buf,
            size_t len)
{
    char ep[256];
    snprintf(ep, sizeof ep, "%.*s", (int)strcspn(error, " "), error);
    if (strcmp(state, "unreachable") == 0)
        snprintf(buf, len, en ? "Cannot reach the aggregator at %s: check "
                 "the network link."
                 : "Không kết nối được máy chủ tổng hợp %s: kiểm tra "
                 "đường truyền mạng.", ep);
    else if (strcmp(state, "handshake_failed") == 0)
        snprintf(buf, len, en ? "The aggregator at %s refused the "
                 "handshake: check server_key in this agent's config, or "
                 "ask the district to enroll this agent (not enrolled or "
                 "revoked)."
                 : "Máy chủ tổng hợp %s từ chối bắt tay: kiểm tra server_key "
                 "trong cấu hình của xã, hoặc nhờ cấp trên đăng ký lại khóa "
                 "của xã (chưa đăng ký hoặc đã bị thu hồi).", ep);
    else if (strcmp(state, "connecting") == 0)
        snprintf(buf, len, en ? "Not connected to the aggregator since "
                 "the agent started: wait a minute, then check the network "
                 "link."
                 : "Chưa kết nối được máy chủ tổng hợp từ khi khởi động: "
                 "đợi một phút rồi kiểm tra đường truyền mạng.");
    else
        return NULL;
    return buf;
}

/* "2026-12-02 13:20 UTC" for ms since the epoch. */
static char *
day_time(char *buf, size_t len, uint64_t ms)
{
    char iso[40];
    cds_format_time(iso, sizeof iso, ms);
    snprintf(buf, len, "%.10s %.5s UTC", iso, iso + 11);
    return buf;
}

/* ms for an officer (the page): Viet Nam time whatever the PC's zone,
 * "01:15 ngày 05/12/2026 (giờ Việt Nam)"; UTC when out of range. */
static char *
day_time_vn(char *buf, size_t len, uint64_t ms, bool en)
{
    struct tm tm;
    if (cds_vn_tm(ms, &tm) != 0)
        return day_time(buf, len, ms);
    strftime(buf, len, en ? "%Y-%m-%d %H:%M (Viet Nam time)"
                          : "%H:%M ngày %d/%m/%Y (giờ Việt Nam)", &tm);
    return buf;
}

/* What to do about a revoked key (revocation.h), one or two sentences,
 * after the state name "revoked: " unless plain (the officer's page).
 * The re-key procedure is docs/SECURITY.md "Key lifecycle": a new
 * identity with its own state directory, enrolled with --replaces. */
static void
revoked_advice(const revocation_t *r, bool en, bool plain, char *buf,
               size_t len)
{
    char at[64], next[400];
    if (plain)
        day_time_vn(at, sizeof at, r->revoked_at_ms, en);
    else
        day_time(at, sizeof at, r->revoked_at_ms);
    if (r->replaced_by[0])
        snprintf(next, sizeof next, en ? "The district enrolled key %s in "
                 "its place: run the agent with that key (its own "
                 "agent.identity and state_dir)."
                 : "Cấp trên đã đăng ký khóa %s thay thế: chạy phần mềm với "
                 "khóa đó (agent.identity và state_dir riêng).",
                 r->replaced_by);
    else
        snprintf(next, sizeof next, en ? "Make a new key (`cdsync-agent "
                 "keygen` with a new agent.identity and state_dir) and ask "
                 "the district to enroll it (`enroll NEWPUBID --replaces "
                 "%s`)."
                 : "Tạo khóa mới (`cdsync-agent keygen` với agent.identity "
                 "và state_dir mới) rồi nhờ cấp trên đăng ký khóa đó (`enroll "
                 "NEWPUBID --replaces %s`).", r->agent_fpr);
    /* plain: a sentence of its own, so it starts with a capital */
    snprintf(buf, len, en ? "%s%s key %s was revoked at the district on "
             "%s; nothing it sends is accepted. %s"
             : "%s%s %s của máy này đã bị cấp trên thu hồi lúc %s; "
             "dữ liệu gửi lên không được nhận. %s", plain ? "" : "revoked: ",
             en ? (plain ? "This PC's" : "this PC's") : (plain ? "Khóa" : "khóa"),
             r->agent_fpr, at, next);
}

/* What to do when the outbox refuses writes: the last error names the
 * step and the cds_err name (session.c local_failed). */
static void
local_advice(const char *state_dir, const char *error, bool en, char *buf,
             size_t len)
{
    struct statvfs fs;
    char room[64] = "";
    if (strstr(error, cds_strerror(CDS_EFULL))) {
        if (statvfs(state_dir, &fs) == 0)
            snprintf(room, sizeof room, " (%llu kB free)",
                     (unsigned long long)fs.f_bavail * fs.f_frsize / 1024);
        snprintf(buf, len, en ? "local disk full: the disk holding %s is "
                 "full%s: free space on it; the agent retries by itself."
                 : "đĩa đầy: ổ đĩa chứa %s đã đầy%s: xóa bớt tệp để có chỗ "
                 "trống; phần mềm tự gửi lại.", state_dir, room);
    } else if (strstr(error, cds_strerror(CDS_EBUSY))) {
        snprintf(buf, len, en ? "database locked: another program holds "
                 "%s/agent.db (a database browser, a backup tool, a second "
                 "agent): close it; the agent retries by itself."
                 : "cơ sở dữ liệu bị khóa: một chương trình khác đang giữ "
                 "%s/agent.db (trình xem CSDL, phần mềm sao lưu, một bản "
                 "phần mềm thứ hai): hãy đóng nó; phần mềm tự thử lại.",
                 state_dir);
    } else {
        snprintf(buf, len, en ? "cannot write its database %s/agent.db"
                 : "không ghi được cơ sở dữ liệu %s/agent.db", state_dir);
    }
}

/* Count per-update refusals for an indicator the aggregator does not know
 * (its catalog differs from ours), and remember one such indicator. */
typedef struct {
    size_t n;
    size_t unknown_indicator;
    char indicator[64];
} rej_count_t;

/* "catalog mismatch" advice for c (c->unknown_indicator > 0). */
static void
catalog_advice(const rej_count_t *c, bool en, char *buf, size_t len)
{
    if (en)
        snprintf(buf, len, "catalog mismatch: %zu value%s refused for an "
                 "indicator the aggregator does not know (%s): update this "
                 "PC's catalog.csv to the district's, or ask the district "
                 "to add the indicator; then resubmit.",
                 c->unknown_indicator, c->unknown_indicator == 1 ? "" : "s",
                 c->indicator);
    else
        snprintf(buf, len, "danh mục không khớp: %zu giá trị bị từ chối vì "
                 "máy chủ tổng hợp không biết chỉ tiêu (%s): cập nhật "
                 "catalog.csv của máy theo danh mục của cấp trên, hoặc nhờ "
                 "cấp trên thêm chỉ tiêu; rồi gửi lại.", c->unknown_indicator,
                 c->indicator);
}

static const char *
severity_name(int sev)
{
    return sev == 0 ? "OK" : sev == 1 ? "WARNING" : "CRITICAL";
}

/* A running daemon's state from agent.state: newer than meta when the
 * database refuses writes (full, locked). m is updated in place. */
static void
overlay_live(const char *state_dir, bool running, outbox_meta_t *m)
{
    livestate_t ls;
    if (!running || livestate_read(state_dir, &ls) != 0
        || strcmp(ls.state, "starting") == 0)
        return;
    snprintf(m->conn_state, sizeof m->conn_state, "%s", ls.state);
    m->conn_changed_at_ms = ls.since_ms;
    if (ls.error[0]) {
        snprintf(m->last_error, sizeof m->last_error, "%s", ls.error);
        m->last_error_at_ms = ls.since_ms;
    }
}

/* "3 min 12 s", "2 h 05 min", "4 days" for a duration in ms; in
 * Vietnamese "3 phút 12 giây", "2 giờ 05 phút", "4 ngày". */
static char *
duration_words(char *buf, size_t len, uint64_t ms, bool en)
{
    uint64_t s = ms / 1000;
    if (s < 60)
        snprintf(buf, len, en ? "%llu s" : "%llu giây", (unsigned long long)s);
    else if (s < 3600)
        snprintf(buf, len, en ? "%llu min %02llu s" : "%llu phút %02llu giây",
                 (unsigned long long)(s / 60), (unsigned long long)(s % 60));
    else if (s < 86400)
        snprintf(buf, len, en ? "%llu h %02llu min" : "%llu giờ %02llu phút",
                 (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60));
    else
        snprintf(buf, len, en ? "%llu days" : "%llu ngày",
                 (unsigned long long)(s / 86400));
    return buf;
}

/* "3 min 12 s behind the aggregator" in buf: plain words for the
 * officer. The offset is aggregator - ours: positive = we are behind. */
static const char *
offset_words(const outbox_meta_t *m, uint64_t now, char *buf, size_t len)
{
    char a[64], b[64];
    int64_t off = m->clock_offset_ms;
    uint64_t mag = off < 0 ? (uint64_t)-off : (uint64_t)off;
    if (!m->clock_offset_at_ms) {
        snprintf(buf, len, "not measured yet");
        return buf;
    }
    cds_format_age(b, sizeof b, now > m->clock_offset_at_ms
                                    ? now - m->clock_offset_at_ms : 0);
    if (mag < 1000)
        snprintf(buf, len, "in step with the aggregator (%+lld ms, "
                 "measured %s)", (long long)off, b);
    else
        snprintf(buf, len, "%s %s the aggregator's (measured %s)",
                 duration_words(a, sizeof a, mag, true),
                 off > 0 ? "behind" : "ahead of", b);
    return buf;
}

/* The signed batches kept after their ack (outbox.h "Kept batches"). */
static void
print_kept(FILE *out, const outbox_kept_stats_t *k, uint64_t now)
{
    char t[64], a[64];
    if (k->count == 0) {
        fprintf(out, "kept:        none\n");
        return;
    }
    fprintf(out, "kept:        %" PRIu64 " signed batch%s, seq %" PRIu64
            "..%" PRIu64 " (%" PRIu64 " bytes), oldest acked %s (%s)\n",
            k->count, k->count == 1 ? "" : "es", k->first_seq, k->last_seq,
            k->bytes, cds_format_time(t, sizeof t, k->oldest_acked_at_ms),
            cds_format_age(a, sizeof a, now > k->oldest_acked_at_ms
                                            ? now - k->oldest_acked_at_ms
                                            : 0));
}

/* Exports by file whose rows are still pending (agent/carry.h). */
static void
print_carried(FILE *out, const outbox_carried_t *c)
{
    char t[64];
    if (c->exports == 0) {
        fprintf(out, "carried:     none\n");
        return;
    }
    fprintf(out, "carried:     seq %" PRIu64 "..%" PRIu64 " in %" PRIu64
            " file(s) not yet acked (still pending: sent by the link or "
            "acked by import-receipt), last %s at %s\n", c->first_seq,
            c->last_seq, c->exports, c->file,
            cds_format_time(t, sizeof t, c->at_ms));
}

/* Which metadata the agent validates with and what the aggregator has
 * published (docs/AGENT.md "Metadata from the aggregator"). */
static void
print_metadata(FILE *out, const outbox_meta_t *m)
{
    char t[64];
    if (m->metadata_version)
        fprintf(out, "metadata:    version %" PRIu64 " in use",
                m->metadata_version);
    else
        fprintf(out, "metadata:    configured files in use");
    if (m->metadata_version && m->metadata_pinned >= m->metadata_latest)
        fprintf(out, " (rolled back; version %" PRIu64 " is not fetched "
                "again, a newer one is)", m->metadata_pinned);
    else if (m->metadata_latest > m->metadata_version)
        fprintf(out, "; the aggregator published version %" PRIu64
                " (told %s) — not fetched by this agent / phiên bản mới "
                "%" PRIu64 " chưa được tải", m->metadata_latest,
                cds_format_time(t, sizeof t, m->metadata_seen_at_ms),
                m->metadata_latest);
    else if (m->metadata_seen_at_ms)
        fprintf(out, "; the aggregator's latest is %" PRIu64,
                m->metadata_latest);
    fputc('\n', out);
    if (m->metadata_error_at_ms)
        fprintf(out, "metadata:    last fetched version REFUSED at %s "
                "(kept the one in use) / phiên bản tải về bị từ chối: %s\n",
                cds_format_time(t, sizeof t, m->metadata_error_at_ms),
                m->metadata_error);
}

/* The signed batches status reports on: kept after their ack, and
 * carried by file but not yet acked. */
typedef struct {
    outbox_kept_stats_t kept;
    outbox_carried_t carried;
    json_t *held;                      /* held values (status_held) */
} batches_seen_t;

static void
print_text(FILE *out, const outbox_meta_t *m, bool running, int64_t depth,
           int64_t age, int64_t bytes, json_t *rej, const char *state,
           const char *why, const batches_seen_t *b)
{
    json_t *held = b->held;
    const outbox_kept_stats_t *k = &b->kept;
    char t[64], a[64], c[256];
    uint64_t now = cds_now_ms();
    fprintf(out, "daemon:      %s\n", running ? "running" : "not running");
    fprintf(out, "connection:  %s%s", m->conn_state,
            running ? "" : " (last known)");
    if (m->conn_changed_at_ms)
        fprintf(out, " since %s",
                cds_format_time(t, sizeof t, m->conn_changed_at_ms));
    fputc('\n', out);
    if (m->last_error[0])
        fprintf(out, "last error:  %s (%s)\n", m->last_error,
                cds_format_age(a, sizeof a, now > m->last_error_at_ms
                                                ? now - m->last_error_at_ms
                                                : 0));
    fprintf(out, "clock:       %s\n", offset_words(m, now, c, sizeof c));
    fprintf(out, "queue:       %" PRId64 " pending (%" PRId64 " bytes)",
            depth, bytes);
    if (depth > 0)
        fprintf(out, ", oldest queued %s",
                cds_format_age(a, sizeof a, (uint64_t)age));
    fputc('\n', out);
    print_carried(out, &b->carried);
    print_metadata(out, m);
    fprintf(out, "last seq:    %" PRIu64 "\n", m->last_seq);
    fprintf(out, "acked seq:   %" PRIu64, m->acked_seq);
    if (m->last_ack_at_ms)
        fprintf(out, ", last ack %s (%s)",
                cds_format_time(t, sizeof t, m->last_ack_at_ms),
                cds_format_age(a, sizeof a, now > m->last_ack_at_ms
                                                ? now - m->last_ack_at_ms
                                                : 0));
    fputc('\n', out);
    fprintf(out, "rejected:    %zu update%s\n", json_array_size(rej),
            json_array_size(rej) == 1 ? "" : "s");
    if (json_array_size(held) == 0)
        fprintf(out, "held:        none\n");
    else
        fprintf(out, "held:        %zu value%s kept back, not sent: no "
                "longer valid under the metadata in use / giá trị bị giữ "
                "lại, chưa gửi (cdsync-agent pending-values)\n",
                json_array_size(held), json_array_size(held) == 1 ? "" : "s");
    print_held(out, held);
    print_kept(out, k, now);
    fprintf(out, "health:      %s%s%s%s\n", state,
            why[0] ? " (" : "", why, why[0] ? ")" : "");
    if (json_array_size(rej) > 0) {
        fputc('\n', out);
        print_rejected(out, rej);
    }
}

static int
print_json(FILE *out, const outbox_meta_t *m, bool running, int64_t depth,
           int64_t age, int64_t bytes, json_t *rej, int sev,
           const char *state, const char *why, const batches_seen_t *b)
{
    const outbox_kept_stats_t *k = &b->kept;
    const outbox_carried_t *cr = &b->carried;
    json_t *o = json_pack(
        "{s:b, s:s, s:I, s:s, s:I, s:{s:I, s:I, s:I}, s:I, s:I, s:I, s:O,"
        " s:I, s:I, s:{s:i, s:s, s:s}, s:{s:I, s:I, s:I, s:I, s:I}}",
        "running", running, "state", m->conn_state, "state_since_ms",
        (json_int_t)m->conn_changed_at_ms, "last_error", m->last_error,
        "last_error_at_ms", (json_int_t)m->last_error_at_ms, "queue",
        "depth", (json_int_t)depth, "oldest_pending_age_ms", (json_int_t)age,
        "bytes", (json_int_t)bytes, "last_seq", (json_int_t)m->last_seq,
        "acked_seq", (json_int_t)m->acked_seq, "last_ack_at_ms",
        (json_int_t)m->last_ack_at_ms, "rejected", rej, "clock_offset_ms",
        (json_int_t)m->clock_offset_ms, "clock_offset_at_ms",
        (json_int_t)m->clock_offset_at_ms, "health", "code", sev, "state",
        state, "why", why, "kept", "count", (json_int_t)k->count,
        "first_seq", (json_int_t)k->first_seq, "last_seq",
        (json_int_t)k->last_seq, "bytes", (json_int_t)k->bytes,
        "oldest_acked_at_ms", (json_int_t)k->oldest_acked_at_ms);
    if (o)
        json_object_set_new(o, "carried", json_pack(
            "{s:I, s:I, s:I, s:s, s:I}", "exports", (json_int_t)cr->exports,
            "first_seq", (json_int_t)cr->first_seq, "last_seq",
            (json_int_t)cr->last_seq, "file", cr->file, "at_ms",
            (json_int_t)cr->at_ms));
    if (o)
        json_object_set_new(o, "metadata", json_pack(
            "{s:I, s:I, s:I, s:s, s:I, s:I}", "in_use",
            (json_int_t)m->metadata_version, "latest",
            (json_int_t)m->metadata_latest, "latest_seen_at_ms",
            (json_int_t)m->metadata_seen_at_ms, "refused",
            m->metadata_error, "refused_at_ms",
            (json_int_t)m->metadata_error_at_ms, "pinned",
            (json_int_t)m->metadata_pinned));
    if (o)
        json_object_set(o, "held", b->held);
    if (!o)
        return CDS_ENOMEM;
    json_dumpf(o, out, JSON_INDENT(2));
    fputc('\n', out);
    json_decref(o);
    return CDS_OK;
}

int
status_print(outbox_t *outbox, const char *state_dir, bool json,
             const status_limits_t *lim, FILE *out, int *verdict)
{
    outbox_meta_t m;
    batches_seen_t k = {0};
    json_t *rej = json_array();
    int rc = rej ? outbox_meta(outbox, &m) : CDS_ENOMEM;
    if (rc == CDS_OK)
        rc = status_held(outbox, lim->english, &k.held);
    if (rc == CDS_OK)
        rc = outbox_rejected_list(outbox, collect_rejected, rej);
    if (rc == CDS_OK)
        rc = outbox_kept_stats(outbox, &k.kept);
    if (rc == CDS_OK)
        rc = outbox_carried_open(outbox, &k.carried);
    int64_t depth = outbox_depth(outbox);
    int64_t age = outbox_oldest_age_ms(outbox, cds_now_ms());
    int64_t bytes = outbox_bytes_pending(outbox);
    if (rc == CDS_OK && (depth < 0 || age < 0 || bytes < 0))
        rc = CDS_EIO;
    if (rc != CDS_OK)
        goto out;
    bool running = daemon_lock_held(state_dir);
    overlay_live(state_dir, running, &m);
    char why[STATUS_WHY_BYTES] = "";
    const char *state = NULL;
    int sev = status_severity(outbox, state_dir, lim, cds_now_ms(), why,
                              sizeof why, &state);
    if (sev < 0) {
        rc = CDS_EIO;
        goto out;
    }
    if (json)
        rc = print_json(out, &m, running, depth, age, bytes, rej, sev, state,
                        why, &k);
    else
        print_text(out, &m, running, depth, age, bytes, rej, state, why, &k);
    *verdict = sev;
out:
    json_decref(k.held);
    json_decref(rej);
    return rc;
}

static int
count_held(const outbox_held_t *h, void *arg)
{
    (*(size_t *)arg)++;
    return 0;
}

/* Held values (0 also when they cannot be read: the rest still says). */
static size_t
held_count(outbox_t *outbox)
{
    size_t n = 0;
    if (outbox_held_list(outbox, count_held, &n) != CDS_OK)
        return 0;
    return n;
}

/* Count rows through the rejected list (no separate count query). */
static int
count_rejected(const outbox_rejected_t *r, void *arg)
{
    rej_count_t *c = arg;
    c->n++;
    if (r->code == CDS_EUNKNOWNINDICATOR && c->unknown_indicator++ == 0)
        snprintf(c->indicator, sizeof c->indicator, "%s",
                 r->u.indicator ? r->u.indicator : "");
    return 0;
}

/* "clock is 2 h 03 min ahead of the aggregator: ..." with what to do. */
static void
skew_words(int64_t off, uint64_t skew, bool en, char *buf, size_t len)
{
    char d[64];
    duration_words(d, sizeof d, skew, en);
    if (en)
        snprintf(buf, len, "clock is %s %s the aggregator: fix this PC's "
                 "time (date, time zone, time synchronisation)", d,
                 off > 0 ? "behind" : "ahead of");
    else
        snprintf(buf, len, "đồng hồ máy %s máy chủ tổng hợp %s: chỉnh lại "
                 "ngày giờ của máy (ngày, múi giờ, đồng bộ giờ)",
                 off > 0 ? "chậm hơn" : "nhanh hơn", d);
}

/* How the officer starts the sync service (the page and `status` say it). */
#ifdef _WIN32
#define START_SERVICE "cdsync-agent service start"
#else
#define START_SERVICE "systemctl start cdsync-agent"
#endif

/* The CRITICAL reasons that no link or time can fix: the key revoked
 * (first: restarting the daemon changes nothing), the daemon not
 * running, its database refusing writes, the aggregator refusing it.
 * 2 with the reason in buf, or 0. */
static int
blocked_reason(const char *state_dir, bool running, const outbox_meta_t *m,
               bool en, bool plain, char *buf, size_t len)
{
    revocation_t rv;
    char advice[STATUS_WHY_BYTES];
    if (revocation_load(state_dir, &rv) == CDS_OK)
        revoked_advice(&rv, en, plain, buf, len);
    else if (!running)
        snprintf(buf, len, en ? "daemon not running: start it "
                 "(" START_SERVICE ", or cdsync-agent run)"
                 : "chương trình đồng bộ chưa chạy: khởi động nó ("
                 START_SERVICE ", hoặc cdsync-agent run)");
    else if (strcmp(m->conn_state, "local_write_failed") == 0) {
        local_advice(state_dir, m->last_error, en, advice, sizeof advice);
        snprintf(buf, len, en ? "%.700s (cannot write its database, acks "
                 "not recorded: %.180s)" : "%.700s (không ghi được cơ sở dữ "
                 "liệu, biên nhận chưa được lưu: %.180s)", advice,
                 m->last_error);
    } else if (strcmp(m->conn_state, "revoked") == 0)
        /* agent.revoked could not be kept: the daemon's own words */
        snprintf(buf, len, "%s%.400s", plain ? "" : "revoked: ",
                 m->last_error);
    else if (strcmp(m->conn_state, "refused") == 0)
        snprintf(buf, len, en ? "refused by the aggregator"
                 : "máy chủ tổng hợp từ chối dữ liệu của máy này");
    else
        return 0;
    return 2;
}

int
status_severity(outbox_t *outbox, const char *state_dir,
                const status_limits_t *lim, uint64_t now_ms, char *why,
                size_t why_len, const char **state)
{
    outbox_meta_t m;
    rej_count_t rc = {0};
    char buf[STATUS_WHY_BYTES] = "", advice[STATUS_WHY_BYTES], d[64];
    if (outbox_meta(outbox, &m) != CDS_OK
        || outbox_rejected_list(outbox, count_rejected, &rc) != CDS_OK)
        return -1;
    size_t n_rej = rc.n, n_held = 0;
    int64_t age = outbox_oldest_age_ms(outbox, now_ms);
    if (age < 0)
        return -1;
    bool running = daemon_lock_held(state_dir);
    overlay_live(state_dir, running, &m);
    uint64_t since = now_ms > m.conn_changed_at_ms
                         ? now_ms - m.conn_changed_at_ms : 0;
    int64_t off = m.clock_offset_ms;
    uint64_t skew = off < 0 ? (uint64_t)-off : (uint64_t)off;
    const char *name = NULL;
    int sev = blocked_reason(state_dir, running, &m, lim->english,
                             lim->plain, buf, sizeof buf);
    if (sev) {
        /* revoked, not running, writes failing, refused: CRITICAL */
    } else if (link_advice(m.conn_state, m.last_error, lim->english, advice,
                           sizeof advice)) {
        /* A known reason warns at once; never OK before a connection. */
        sev = since > lim->disconnected_ms ? 2 : 1;
        size_t n = (size_t)snprintf(buf, sizeof buf, "%.20s%s%.400s",
                                    lim->plain ? "" : m.conn_state,
                                    lim->plain ? "" : ": ", advice);
        if ((uint64_t)age > lim->backlog_ms && lim->english)
            snprintf(buf + n, sizeof buf - n, "; backlog: oldest pending %"
                     PRId64 " s", age / 1000);  /* its consequence, too */
        else if ((uint64_t)age > lim->backlog_ms)
            snprintf(buf + n, sizeof buf - n, "; có giá trị chờ gửi đã %s",
                     duration_words(d, sizeof d, (uint64_t)age, false));
    } else if (strcmp(m.conn_state, "connected") != 0
               && since > lim->disconnected_ms) {
        sev = 2;
        if (lim->english)
            snprintf(buf, sizeof buf, "not connected for %" PRIu64 " s",
                     since / 1000);
        else
            snprintf(buf, sizeof buf, "mất kết nối với máy chủ tổng hợp đã "
                     "%s: kiểm tra đường truyền mạng",
                     duration_words(d, sizeof d, since, false));
    } else if (m.clock_offset_at_ms && lim->max_clock_skew_ms
               && skew > lim->max_clock_skew_ms) {
        sev = 1;
        name = "SKEWED";
        skew_words(off, skew, lim->english, buf, sizeof buf);
    } else if ((uint64_t)age > lim->backlog_ms) {
        sev = 1;
        if (lim->english)
            snprintf(buf, sizeof buf, "backlog: oldest pending %" PRId64
                     " s", age / 1000);
        else
            snprintf(buf, sizeof buf, "có giá trị chờ gửi đã %s: kiểm tra "
                     "đường truyền mạng",
                     duration_words(d, sizeof d, (uint64_t)age, false));
    } else if ((n_held = held_count(outbox)) > 0) {
        sev = 1;
        snprintf(buf, sizeof buf, lim->english
                 ? "%zu value%s held back: no longer valid under the "
                   "metadata in use (cdsync-agent pending-values)"
                 : "%zu giá trị%s bị giữ lại vì không còn hợp lệ theo danh "
                   "mục mới (cdsync-agent pending-values)", n_held,
                 lim->english && n_held != 1 ? "s" : "");
    } else if (rc.unknown_indicator > 0) {
        sev = 1;
        catalog_advice(&rc, lim->english, buf, sizeof buf);
    } else if (n_rej > 0) {
        sev = 1;
        if (lim->english)
            snprintf(buf, sizeof buf, "%zu rejected value%s", n_rej,
                     n_rej == 1 ? "" : "s");
        else
            snprintf(buf, sizeof buf, "%zu giá trị bị từ chối: sửa rồi gửi "
                     "lại", n_rej);
    }
    if (why)
        snprintf(why, why_len, "%s", buf);
    if (state)
        *state = name ? name : severity_name(sev);
    return sev;
}

