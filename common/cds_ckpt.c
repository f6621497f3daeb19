/*  cds_ckpt: the checkpoint helper thread. See cds_ckpt.h. */
#include "cds_ckpt.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct cds_ckpt {
    cds_db_t *db;                      /* writer (borrowed) */
    sqlite3 *conn;                     /* helper's own connection (owned) */
    int pages, max_pages;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;                 /* wakes the helper / waiters */
    bool wanted;                       /* a checkpoint is asked for */
    bool running;                      /* the helper is checkpointing */
    bool stop;
    uint64_t done;                     /* checkpoints by the helper */
    uint64_t by_writer;                /* ... by the writer at max_pages */
};

/* Writer side: called by SQLite after each commit, with the WAL size. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int n_pages)
{
    cds_ckpt_t *self = arg;
    if (n_pages >= self->max_pages) {
        /* Bound: the helper is behind; do what auto-checkpoint would. */
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                  NULL);
        pthread_mutex_lock(&self->mu);
        self->by_writer++;
        pthread_mutex_unlock(&self->mu);
    } else if (n_pages >= self->pages)
        cds_ckpt_kick(self);
    return SQLITE_OK;
}

static void
checkpoint_once(cds_ckpt_t *self)
{
    int log = 0, moved = 0;
    int rc = sqlite3_wal_checkpoint_v2(self->conn, NULL,
                                       SQLITE_CHECKPOINT_PASSIVE, &log,
                                       &moved);
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
        cds_log(CDS_LOG_WARN, "checkpoint_failed", "path=%s rc=%d msg=%s",
                cds_logq(cds_db_path(self->db)), rc,
                cds_logq(sqlite3_errmsg(self->conn)));
}

static void *
helper_main(void *arg)
{
    cds_ckpt_t *self = arg;
    pthread_mutex_lock(&self->mu);
    for (;;) {
        while (!self->wanted && !self->stop)
            pthread_cond_wait(&self->cv, &self->mu);
        if (self->stop)
            break;
        self->wanted = false;
        self->running = true;
        pthread_mutex_unlock(&self->mu);
        checkpoint_once(self);
        pthread_mutex_lock(&self->mu);
        self->done++;
        self->running = false;
        pthread_cond_broadcast(&self->cv);
    }
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

/* The helper's connection: same file, synchronous=FULL (the checkpoint
 * fsyncs the WAL before and the database after copying). */
static int
open_conn(cds_ckpt_t *self)
{
    const char *path = cds_db_path(self->db);
    if (sqlite3_open_v2(path, &self->conn, SQLITE_OPEN_READWRITE, NULL)
            != SQLITE_OK
        || sqlite3_exec(self->conn, "PRAGMA synchronous=FULL", NULL, NULL,
                        NULL) != SQLITE_OK) {
        cds_log(CDS_LOG_ERROR, "checkpointer_failed", "path=%s msg=%s",
                cds_logq(path), cds_logq(self->conn
                                             ? sqlite3_errmsg(self->conn)
                                             : "out of memory"));
        return -1;
    }
    return 0;
}

cds_ckpt_t *
cds_ckpt_new(cds_db_t *db, int pages, int max_pages)
{
    if (!db || pages < 1 || max_pages < pages)
        return NULL;
    cds_ckpt_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->db = db;
    self->pages = pages;
    self->max_pages = max_pages;
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cv, NULL);
    if (open_conn(self) != 0
        || pthread_create(&self->thread, NULL, helper_main, self) != 0) {
        sqlite3_close(self->conn);
        pthread_cond_destroy(&self->cv);
        pthread_mutex_destroy(&self->mu);
        free(self);
        return NULL;
    }
    /* Replaces the auto-checkpoint hook (sqlite3_wal_hook docs). */
    sqlite3_wal_hook(cds_db_handle(db), wal_hook, self);
    return self;
}

void
cds_ckpt_destroy(cds_ckpt_t **self_p)
{
    cds_ckpt_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    sqlite3_wal_autocheckpoint(cds_db_handle(self->db), 1000);
    pthread_mutex_lock(&self->mu);
    self->stop = true;
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
    pthread_join(self->thread, NULL);
    sqlite3_close(self->conn);
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

uint64_t
cds_ckpt_count(cds_ckpt_t *self, uint64_t *by_writer)
{
    pthread_mutex_lock(&self->mu);
    uint64_t n = self->done;
    if (by_writer)
        *by_writer = self->by_writer;
    pthread_mutex_unlock(&self->mu);
    return n;
}

void
cds_ckpt_kick(cds_ckpt_t *self)
{
    pthread_mutex_lock(&self->mu);
    self->wanted = true;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
}

int
cds_ckpt_wait(cds_ckpt_t *self, long timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&self->mu);
    /* One running now may have started before the call: then wait for
     * the one after it. */
    uint64_t target = self->done + (self->running ? 2 : 1);
    self->wanted = true;
    pthread_cond_broadcast(&self->cv);
    int rc = 0;
    while (self->done < target && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&self->cv, &self->mu, &until);
    bool ok = self->done >= target;
    pthread_mutex_unlock(&self->mu);
    return ok ? CDS_OK : CDS_EBUSY;
}
