/*  cds_compat: the POSIX calls the agent makes, on Windows (mingw-w64).
 *
 *  Force-included (-include) in every Windows compile by
 *  deploy/windows/windows.mk, never on Linux: the Linux sources and their
 *  behaviour stay as they are, and what Windows lacks is supplied here
 *  with the nearest Windows meaning, one line each where it can be:
 *    fsync -> _commit (FlushFileBuffers), fchmod -> no-op (the identity
 *    file's protection is its ACL: cds_win32_key_private), flock ->
 *    LockFileEx, lstat -> stat (no symbolic links checked), link ->
 *    CreateHardLink, mkdir(p, m) -> _mkdir(p), close on a socket ->
 *    closesocket (cds_win32_close), poll -> WSAPoll, rename ->
 *    MoveFileEx replacing the target, written through.
 *  Paths are UTF-8 everywhere: the program's manifest asks Windows for the
 *  UTF-8 code page (deploy/windows/cdsync-agent.manifest), so the CRT's
 *  fopen/open and argv pass Vietnamese names through unchanged.
 *  The system headers are included first so that the macros below do not
 *  rewrite their declarations. */
#ifndef CDS_COMPAT_H
#define CDS_COMPAT_H
#ifdef _WIN32

#define WIN32_LEAN_AND_MEAN
#define NOGDI                          /* no ERROR macro */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <direct.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>
#include <locale.h>
#undef near                            /* windows.h: names used as variables */
#undef far
#undef small
#undef interface

#ifndef O_CLOEXEC
#define O_CLOEXEC _O_NOINHERIT
#endif
#define O_NOCTTY 0
#define O_DIRECTORY 0
#define O_NOFOLLOW 0
#ifndef O_NONBLOCK
#define O_NONBLOCK 0
#endif
#define SOCK_NONBLOCK 0x40000000
#define SOCK_CLOEXEC 0
#define S_ISLNK(m) 0
#define lstat stat
#define fsync(fd) _commit(fd)
#define fdatasync(fd) _commit(fd)
static inline int
cds_win32_chmod(int mode)
{
    (void) mode;
    return 0;
}
#define fchmod(fd, mode) ((void) (fd), cds_win32_chmod(mode))
#define chmod(p, mode) ((void) (p), cds_win32_chmod(mode))
#define mkdir(p, mode) ((void) (mode), _mkdir(p))
#define link(from, to) (CreateHardLinkA((to), (from), NULL) ? 0 : (errno = EIO, -1))
#define geteuid() 0
#define getuid() 0
/* rename() that replaces an existing target, as POSIX's does. */
int cds_win32_rename(const char *from, const char *to);
#define rename(from, to) cds_win32_rename((from), (to))
/* remove() that removes an empty directory too, as POSIX's does (the
 * CRT's removes files only: the unit tests' nftw clean-up left every
 * temporary directory behind). */
int cds_win32_remove(const char *path);
#define remove(p) cds_win32_remove(p)
#define poll(fds, n, ms) WSAPoll((fds), (n), (ms))
#define mkostemp(t, flags) mkstemp(t)
/* UTC struct tm to time_t (cds_dvs.c): the CRT names it _mkgmtime. */
#define timegm(tm) _mkgmtime(tm)
/* msvcrt's dup2 returns 0 on success, POSIX's the new descriptor. */
#define dup2(from, to) (_dup2((from), (to)) == 0 ? (to) : -1)
#ifndef EWOULDBLOCK
#define EWOULDBLOCK EAGAIN
#endif

#define LOCK_SH 1
#define LOCK_EX 2
#define LOCK_NB 4
#define LOCK_UN 8
int flock(int fd, int op);

/* The "C" locale for numbers: the CRT's own; the agent never calls
 * setlocale, so the thread's locale is "C" already (uselocale: no-op). */
typedef _locale_t locale_t;
#define LC_ALL_MASK LC_ALL
#define newlocale(mask, name, base) _create_locale(LC_ALL, (name))
#define strtod_l(s, end, loc) _strtod_l((s), (end), (loc))
static inline locale_t
uselocale(locale_t loc)
{
    (void) loc;
    return (locale_t) 0;
}

/* renameat2(RENAME_NOREPLACE) for cds_publish_file: MoveFileEx without
 * REPLACE_EXISTING, EEXIST when the target is there. */
#define AT_FDCWD (-100)
#define RENAME_NOREPLACE 1
int cds_win32_rename_noreplace(const char *from, const char *to);
#define renameat2(d1, from, d2, to, fl) \
    ((void) (d1), (void) (d2), (void) (fl), cds_win32_rename_noreplace((from), (to)))
#define getsockopt(s, l, o, v, n) getsockopt((s), (l), (o), (char *) (v), (n))

/* fmemopen over a copy in a delete-on-close temporary file. */
FILE *fmemopen(void *buf, size_t len, const char *mode);
/* open_memstream over a delete-on-close temporary file: fflush and fclose
 * (macros below) copy its contents into *buf (malloc'd, NUL-terminated)
 * and *len, as POSIX's does. At most CDS_MEMSTREAMS open at once. */
FILE *open_memstream(char **buf, size_t *len);
/* tmpfile in %TEMP% (msvcrt's writes to the drive's root, often refused). */
FILE *cds_win32_tmpfile(void);
#define tmpfile() cds_win32_tmpfile()
int cds_win32_fflush(FILE *f);
int cds_win32_fclose(FILE *f);
#define fflush(f) cds_win32_fflush(f)
#define fclose(f) cds_win32_fclose(f)
void qsort_r(void *base, size_t n, size_t size,
             int (*cmp)(const void *, const void *, void *), void *arg);
ssize_t pwrite(int fd, const void *buf, size_t len, off_t off);
/* mkdtemp: names from rand_s (the system's random source), so two
 * processes, or a rerun beside old directories, do not try the same
 * names in the same order. */
char *mkdtemp(char *tmpl);
/* fsync of a directory: FlushFileBuffers on a handle opened with
 * FILE_FLAG_BACKUP_SEMANTICS. 0 or -1 with errno. */
int cds_win32_fsync_dir(const char *dir);
/* strerror that also names the socket errors msvcrt calls "Unknown". */
char *cds_win32_strerror(int e);
#define strerror(e) cds_win32_strerror(e)
int setenv(const char *name, const char *value, int overwrite);
int unsetenv(const char *name);
char *strndup(const char *s, size_t n);
void *memmem(const void *hay, size_t hlen, const void *needle, size_t nlen);
ssize_t getline(char **line, size_t *cap, FILE *f);
void tdestroy(void *root, void (*free_node)(void *));
struct tm *gmtime_r(const time_t *t, struct tm *out);
#define timegm(tm) _mkgmtime(tm)
struct tm *localtime_r(const time_t *t, struct tm *out);
/* socket() that is nonblocking when asked (SOCK_NONBLOCK) and an int. */
int cds_win32_socket(int family, int type, int proto);
#define socket(f, t, p) cds_win32_socket((f), (t), (p))
/* connect() that reports WSAEWOULDBLOCK as errno EINPROGRESS. */
int cds_win32_connect(int fd, const struct sockaddr *a, int len);
#define connect(fd, a, l) cds_win32_connect((fd), (a), (int) (l))
/* close() for a file descriptor or a socket. */
int cds_win32_close(int fd);
#define close(fd) cds_win32_close(fd)

/* statvfs, for the free space status reports. */
struct statvfs {
    unsigned long f_bsize, f_frsize;
    unsigned long long f_blocks, f_bfree, f_bavail;
};
int statvfs(const char *path, struct statvfs *out);

/* 0 when the identity file at path is readable only by its owner, the
 * Administrators and SYSTEM; else -1 with a message naming the extra
 * reader and the icacls command that removes it. */
int cds_win32_key_private(const char *path, char *msg, size_t len);
/* Give path a protected access list allowing only its owner. 0 or -1. */
int cds_win32_key_protect(const char *path);

#endif /* _WIN32 */
#endif
