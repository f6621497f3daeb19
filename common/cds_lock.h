/*  cds_lock: one daemon per state directory, by flock(2) on a lock file.
 *
 *  The lock is held as long as the returned descriptor is open, and the
 *  kernel drops it when the process dies however it dies: no stale lock
 *  file to clean after a crash (the file itself stays, empty). The
 *  descriptor is O_CLOEXEC, so no child inherits the lock. */
#ifndef CDS_LOCK_H
#define CDS_LOCK_H

/* Create path if needed (0600) and take an exclusive non-blocking flock.
 * CDS_OK with *fd the descriptor to keep open; CDS_EBUSY when another
 * process holds it; CDS_EIO (logged event=lock_failed) otherwise. */
int cds_lock_take(const char *path, int *fd);

#endif
