/*  backup: an online, consistent copy of the aggregator's database with
 *  its identity and catalog (`backup FILE`), its restore (`restore FILE`),
 *  and the daemon lock that keeps those (and accept-restore) away from a
 *  running daemon. docs/OPERATIONS.md "Backup and restore" is the drill.
 *
 *  A backup FILE is four files, each written to NAME.tmp, fsynced, mode
 *  0600, renamed:
 *    FILE            the database, copied with the SQLite backup API inside
 *                    one read transaction (WAL: the daemon keeps writing;
 *                    the copy is the snapshot at its start)
 *    FILE.identity   the aggregator's identity file (its secret keys)
 *    FILE.catalog.csv  the indicator catalog in use
 *    FILE.manifest   "key=value" lines: format, database id, commit counter
 *                    and schema version of the copy, time, and
 *                    "sha256 NAME HEX" for each of the three files above
 *  The commit counter in the copy is the one the copied database holds
 *  (the counter lives in the database, so they agree by construction); on
 *  restore the existing commit mark, which is ahead if anything was acked
 *  after the copy, makes `run` refuse until `accept-restore`.
 *
 *  A PostgreSQL store is not copied here: its database is backed up by
 *  PostgreSQL's tools (base backups with WAL archiving, pg_dump), which
 *  the DBA runs anyway; backup_make and backup_restore refuse it with a
 *  message saying so (docs/POSTGRESQL.md "When the store goes back in
 *  time"), and backup_before_migrate has nothing to copy.
 *
 *  The daemon lock: `run` holds an exclusive flock(2) on <db>.lock for its
 *  life; backup_lock_try takes the same lock, so restore and accept-restore
 *  fail while a daemon runs, and a daemon cannot start during a restore. */
#ifndef AGG_BACKUP_H
#define AGG_BACKUP_H

#include <stdbool.h>
#include <stddef.h>

#define BACKUP_LOCK_SUFFIX ".lock"

/* What to copy (backup) or where to put it (restore); all borrowed. */
typedef struct {
    const char *db_path;               /* <state_dir>/aggregator.db */
    const char *identity_path;         /* the identity file */
    const char *catalog_path;          /* backup only: the catalog CSV */
    const char *file;                  /* the backup FILE */
    const char *store;                 /* the store (cli->store): a
                                        * PostgreSQL URL is refused; NULL
                                        * or a path: the SQLite file at
                                        * db_path */
    bool force;                        /* backup: overwrite FILE */
    bool with_identity;                /* restore: the identity too */
} backup_opts_t;

/* Take the daemon lock <db_path>.lock (created 0600, owned like the
 * database when we are root). The descriptor (keep it open for as long as
 * the lock must hold: closing releases it), or -1: CDS_EBUSY in *code when
 * another process holds it (a daemon runs), CDS_EIO otherwise. */
int backup_lock_try(const char *db_path, int *code);

/* Give path the owner and group of ref (when they differ and we may):
 * root running a command must not leave files the service user cannot
 * open. 0 or -1 (errno). */
int backup_own_like(const char *path, const char *ref);

/* Write the backup (see above). CDS_OK, CDS_EEXIST-like CDS_EUSAGE when
 * FILE exists without force or the store is PostgreSQL, CDS_EIO / a
 * database error otherwise; msg gets one operator sentence on failure,
 * the summary on success. */
int backup_make(const backup_opts_t *o, char *msg, size_t msglen);

/* Restore FILE (daemon lock held by the caller): verify the manifest's
 * digests, put the database (and the identity with with_identity) in
 * place by rename, with the owner and mode of the files replaced; the
 * replaced database is kept as <db>.pre-restore. The commit mark is not
 * touched; when there is none, one is written one ahead of the restored
 * database so that `run` refuses until `accept-restore`. CDS_OK, or
 * CDS_ECORRUPT (a digest differs), CDS_ENOTFOUND, CDS_EIO, CDS_EUSAGE (a
 * PostgreSQL store); msg as above. */
int backup_restore(const backup_opts_t *o, char *msg, size_t msglen);

/* Before `run` migrates the database to a newer schema (nothing on a
 * PostgreSQL store: CDS_OK, msg ""): when db_path
 * exists at a schema older than target_schema (and not new, version 0),
 * write a full backup set (as backup_make, replacing an earlier one) to
 * <db_path>.pre-v<target_schema>, so the upgrade can be undone with
 * `restore` by the old program. o->file is ignored. CDS_OK with msg ""
 * when nothing was due, CDS_OK with msg the summary when a backup was made,
 * else the error of backup_make (msg says why): the caller must then not
 * migrate. */
int backup_before_migrate(const backup_opts_t *o, int target_schema,
                          char *msg, size_t msglen);

#endif
