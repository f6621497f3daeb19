/*  progress: see progress.h. */
#include "progress.h"
#include "histogram.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct progress {
    uint64_t stuck_after_ns;           /* verdict threshold */
    /* Written by the writer only: `since` before `waiting` (release), so
     * a reader that sees waiting > 0 (acquire) sees the since it began. */
    atomic_uint_fast64_t waiting;      /* messages owed a commit */
    atomic_uint_fast64_t since_ns;     /* last commit, or 0 -> 1 waiting */
    histogram_t *ingest;               /* received -> ack sent */
    histogram_t *commit;               /* COMMIT duration */
};

uint64_t
progress_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

progress_t *
progress_new(uint64_t stuck_after_ms)
{
    progress_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->stuck_after_ns = stuck_after_ms * 1000000ull;
    atomic_init(&self->waiting, 0);
    atomic_init(&self->since_ns, progress_now_ns());
    self->ingest = histogram_new("cdsync_ingest_duration_seconds",
        "Time from receiving a batch to sending its answer (ack, retry "
        "or refusal), including the group commit.");
    self->commit = histogram_new("cdsync_commit_duration_seconds",
        "Duration of a group's SQLite COMMIT, including its fsync.");
    if (!self->ingest || !self->commit)
        progress_destroy(&self);
    return self;
}

void
progress_destroy(progress_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    histogram_destroy(&(*self_p)->ingest);
    histogram_destroy(&(*self_p)->commit);
    free(*self_p);
    *self_p = NULL;
}

void
progress_received(progress_t *self)
{
    if (!self)
        return;
    if (atomic_load_explicit(&self->waiting, memory_order_relaxed) == 0)
        atomic_store_explicit(&self->since_ns, progress_now_ns(),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&self->waiting, 1, memory_order_release);
}

void
progress_committed(progress_t *self, uint64_t start_ns,
                   uint64_t still_waiting)
{
    if (!self)
        return;
    uint64_t now = progress_now_ns();
    histogram_observe_ns(self->commit, now > start_ns ? now - start_ns : 0);
    atomic_store_explicit(&self->since_ns, now, memory_order_relaxed);
    atomic_store_explicit(&self->waiting, still_waiting,
                          memory_order_release);
}

void
progress_acked(progress_t *self, uint64_t recv_ns)
{
    if (!self)
        return;
    uint64_t now = progress_now_ns();
    histogram_observe_ns(self->ingest, now > recv_ns ? now - recv_ns : 0);
}

bool
progress_stuck(const progress_t *self, uint64_t now_ns, uint64_t *stalled_ms,
               uint64_t *waiting)
{
    *stalled_ms = *waiting = 0;
    if (!self)
        return false;
    progress_t *p = (progress_t *) self;       /* atomic loads only */
    uint64_t w = atomic_load_explicit(&p->waiting, memory_order_acquire);
    uint64_t since = atomic_load_explicit(&p->since_ns, memory_order_relaxed);
    if (w == 0)
        return false;
    uint64_t ns = now_ns > since ? now_ns - since : 0;
    *stalled_ms = ns / 1000000u;
    *waiting = w;
    return ns >= self->stuck_after_ns;
}

void
progress_render(const progress_t *self, uint64_t now_ns, FILE *out)
{
    uint64_t stalled_ms = 0, waiting = 0;
    if (!self)
        return;
    bool stuck = progress_stuck(self, now_ns, &stalled_ms, &waiting);
    fprintf(out, "# HELP cdsync_writer_waiting_messages Messages received "
            "and not yet covered by a commit (incl. answered retry since "
            "the last commit).\n# TYPE cdsync_writer_waiting_messages gauge\n"
            "cdsync_writer_waiting_messages %llu\n",
            (unsigned long long) waiting);
    fprintf(out, "# HELP cdsync_writer_stalled_seconds Time messages have "
            "waited without a successful commit; 0 when nothing waits.\n"
            "# TYPE cdsync_writer_stalled_seconds gauge\n"
            "cdsync_writer_stalled_seconds %.3f\n",
            (double) stalled_ms / 1000);
    fprintf(out, "# HELP cdsync_writer_stuck 1 when stalled for "
            "writer_stuck_after_ms or longer (then /healthz answers 503).\n"
            "# TYPE cdsync_writer_stuck gauge\ncdsync_writer_stuck %d\n",
            stuck);
    histogram_render(self->ingest, out);
    histogram_render(self->commit, out);
}
