/*  cds_compat: see cds_compat.h. Built for Windows only (windows.mk). */
#include "cds_compat.h"

#include <aclapi.h>
#include <sddl.h>

/* The CRT's rand_s (RtlGenRandom): stdlib.h declares it only when
 * _CRT_RAND_S is defined before it, and cds_compat.h is included first. */
int __cdecl rand_s(unsigned int *value);

/* Files open in binary mode, as on Linux: the identity file, CSVs and
 * the catalog are read back byte for byte (no CRLF rewriting). Set before
 * main; every program that makes a POSIX call links this file. The
 * standard streams too: a script that reads `pubid` or `status --json`
 * gets the bytes the Linux agent prints, not "\r\n" line ends (the
 * console shows a bare "\n" as a new line either way). */
__attribute__((constructor)) static void
binary_mode(void)
{
    _fmode = _O_BINARY;
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
}

int
flock(int fd, int op)
{
    HANDLE h = (HANDLE) _get_osfhandle(fd);
    OVERLAPPED ov = {0};
    if (h == INVALID_HANDLE_VALUE)
        return errno = EBADF, -1;
    if (op & LOCK_UN)
        return UnlockFileEx(h, 0, MAXDWORD, MAXDWORD, &ov) ? 0 : (errno = EIO, -1);
    DWORD f = (op & LOCK_EX ? LOCKFILE_EXCLUSIVE_LOCK : 0)
              | (op & LOCK_NB ? LOCKFILE_FAIL_IMMEDIATELY : 0);
    if (LockFileEx(h, f, 0, MAXDWORD, MAXDWORD, &ov))
        return 0;
    DWORD e = GetLastError();
    errno = e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING ? EWOULDBLOCK : EIO;
    return -1;
}

char *
strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* As glibc's: the first place needle occurs in hay, or NULL. */
void *
memmem(const void *hay, size_t hlen, const void *needle, size_t nlen)
{
    const char *h = hay;
    if (nlen == 0)
        return (void *) h;
    for (size_t i = 0; nlen <= hlen && i <= hlen - nlen; i++)
        if (h[i] == *(const char *) needle && memcmp(h + i, needle, nlen) == 0)
            return (void *) (h + i);
    return NULL;
}

ssize_t
getline(char **line, size_t *cap, FILE *f)
{
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF) {
        if (n + 2 > *cap || !*line) {
            size_t nc = *cap ? *cap * 2 : 128;
            char *p = realloc(*line, nc);
            if (!p)
                return errno = ENOMEM, -1;
            *line = p, *cap = nc;
        }
        (*line)[n++] = (char) c;
        if (c == '\n')
            break;
    }
    if (n == 0)
        return -1;
    (*line)[n] = '\0';
    return (ssize_t) n;
}

/* mingw's tsearch (NetBSD's) allocates these nodes with malloc. */
struct tnode {
    void *key;
    struct tnode *left, *right;
};

static void
tfree(struct tnode *n, void (*free_node)(void *))
{
    if (!n)
        return;
    tfree(n->left, free_node);
    tfree(n->right, free_node);
    free_node(n->key);
    free(n);
}

void
tdestroy(void *root, void (*free_node)(void *))
{
    tfree(root, free_node);
}

struct tm *
gmtime_r(const time_t *t, struct tm *out)
{
    return gmtime_s(out, t) == 0 ? out : NULL;
}

struct tm *
localtime_r(const time_t *t, struct tm *out)
{
    return localtime_s(out, t) == 0 ? out : NULL;
}

#undef rename
int
cds_win32_rename(const char *from, const char *to)
{
    if (MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
        return 0;
    DWORD e = GetLastError();
    errno = e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND ? ENOENT
            : e == ERROR_ACCESS_DENIED ? EACCES : EIO;
    return -1;
}

#undef socket
#undef connect
#undef close
int
cds_win32_socket(int family, int type, int proto)
{
    static LONG started;               /* Winsock before the first socket */
    WSADATA wsa;
    if (InterlockedExchange(&started, 1) == 0)
        WSAStartup(MAKEWORD(2, 2), &wsa);
    SOCKET s = socket(family, type & ~SOCK_NONBLOCK, proto);
    if (s == INVALID_SOCKET)
        return errno = EIO, -1;
    u_long on = 1;
    if (type & SOCK_NONBLOCK)
        ioctlsocket(s, FIONBIO, &on);
    return (int) s;
}

int
cds_win32_connect(int fd, const struct sockaddr *a, int len)
{
    if (connect((SOCKET) fd, a, len) == 0)
        return 0;
    int e = WSAGetLastError();
    errno = e == WSAEWOULDBLOCK ? EINPROGRESS
            : e == WSAECONNREFUSED ? ECONNREFUSED
            : e == WSAETIMEDOUT ? ETIMEDOUT : EIO;
    return -1;
}

/* A socket is not a CRT descriptor: _get_osfhandle fails for it. */
int
cds_win32_close(int fd)
{
    int saved = errno;
    if (_get_osfhandle(fd) == -1) {
        errno = saved;
        return closesocket((SOCKET) fd) == 0 ? 0 : (errno = EIO, -1);
    }
    return _close(fd);
}

int
statvfs(const char *path, struct statvfs *out)
{
    ULARGE_INTEGER avail, total, free_;
    if (!GetDiskFreeSpaceExA(path, &avail, &total, &free_))
        return errno = ENOENT, -1;
    out->f_bsize = out->f_frsize = 4096;
    out->f_blocks = total.QuadPart / 4096;
    out->f_bfree = free_.QuadPart / 4096;
    out->f_bavail = avail.QuadPart / 4096;
    return 0;
}

int
cds_win32_rename_noreplace(const char *from, const char *to)
{
    if (MoveFileExA(from, to, MOVEFILE_WRITE_THROUGH))
        return 0;
    DWORD e = GetLastError();
    errno = e == ERROR_ALREADY_EXISTS || e == ERROR_FILE_EXISTS ? EEXIST
            : e == ERROR_FILE_NOT_FOUND ? ENOENT : EIO;
    return -1;
}

FILE *
fmemopen(void *buf, size_t len, const char *mode)
{
    char dir[MAX_PATH], path[MAX_PATH];
    (void) mode;                       /* read only: the callers' use */
    if (!GetTempPathA(sizeof dir, dir) || !GetTempFileNameA(dir, "cds", 0, path))
        return errno = EIO, NULL;
    FILE *f = fopen(path, "w+bTD");    /* T: temporary, D: delete on close */
    if (!f)
        return NULL;
    if (fwrite(buf, 1, len, f) != len || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return errno = EIO, NULL;
    }
    return f;
}

#define CDS_MEMSTREAMS 16
static struct memstream {
    FILE *f;
    char **buf;
    size_t *len;
} memstreams[CDS_MEMSTREAMS];

static FILE *
temp_file(void)
{
    char dir[MAX_PATH], path[MAX_PATH];
    if (!GetTempPathA(sizeof dir, dir) || !GetTempFileNameA(dir, "cds", 0, path))
        return errno = EIO, NULL;
    return fopen(path, "w+bTD");       /* T: temporary, D: delete on close */
}

FILE *
cds_win32_tmpfile(void)
{
    return temp_file();
}

FILE *
open_memstream(char **buf, size_t *len)
{
    for (int i = 0; i < CDS_MEMSTREAMS; i++) {
        if (memstreams[i].f)
            continue;
        FILE *f = temp_file();
        if (!f || !(*buf = calloc(1, 1))) {
            if (f)
                fclose(f);
            return errno = ENOMEM, NULL;
        }
        *len = 0;
        memstreams[i] = (struct memstream){f, buf, len};
        return f;
    }
    return errno = EMFILE, NULL;
}

#undef fflush
#undef fclose
/* Copy a memstream's file into its buffer; the position is kept. */
static int
mem_sync(struct memstream *m)
{
    long pos = ftell(m->f);
    if (fflush(m->f) != 0 || pos < 0 || fseek(m->f, 0, SEEK_END) != 0)
        return EOF;
    long end = ftell(m->f);
    char *b = realloc(*m->buf, (size_t) end + 1);
    if (!b || fseek(m->f, 0, SEEK_SET) != 0)
        return EOF;
    size_t got = fread(b, 1, (size_t) end, m->f);
    b[got] = '\0';
    *m->buf = b, *m->len = got;
    return fseek(m->f, pos, SEEK_SET) == 0 ? 0 : EOF;
}

static struct memstream *
mem_find(FILE *f)
{
    for (int i = 0; f && i < CDS_MEMSTREAMS; i++)
        if (memstreams[i].f == f)
            return &memstreams[i];
    return NULL;
}

int
cds_win32_fflush(FILE *f)
{
    struct memstream *m = mem_find(f);
    return m ? mem_sync(m) : fflush(f);
}

int
cds_win32_fclose(FILE *f)
{
    struct memstream *m = mem_find(f);
    int rc = m ? mem_sync(m) : 0;
    if (m)
        m->f = NULL;
    return fclose(f) == 0 ? rc : EOF;
}

static __thread int (*qr_cmp)(const void *, const void *, void *);
static __thread void *qr_arg;

static int
qr_tramp(const void *a, const void *b)
{
    return qr_cmp(a, b, qr_arg);
}

void
qsort_r(void *base, size_t n, size_t size,
        int (*cmp)(const void *, const void *, void *), void *arg)
{
    int (*old_cmp)(const void *, const void *, void *) = qr_cmp;
    void *old_arg = qr_arg;
    qr_cmp = cmp, qr_arg = arg;
    qsort(base, n, size, qr_tramp);
    qr_cmp = old_cmp, qr_arg = old_arg;
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
    HANDLE h = (HANDLE) _get_osfhandle(fd);
    OVERLAPPED ov = {0};
    DWORD done = 0;
    ov.Offset = (DWORD) ((uint64_t) off & 0xffffffffu);
    ov.OffsetHigh = (DWORD) ((uint64_t) off >> 32);
    if (h == INVALID_HANDLE_VALUE || !WriteFile(h, buf, (DWORD) len, &done, &ov))
        return errno = EIO, -1;
    return (ssize_t) done;
}

char *
mkdtemp(char *tmpl)
{
    size_t n = strlen(tmpl);
    if (n < 6 || strcmp(tmpl + n - 6, "XXXXXX") != 0)
        return errno = EINVAL, NULL;
    for (int tries = 0; tries < 100; tries++) {
        for (size_t i = n - 6; i < n; i++) {
            unsigned int r = 0;
            if (rand_s(&r) != 0)
                return errno = EIO, NULL;
            tmpl[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[r % 36];
        }
        if (_mkdir(tmpl) == 0)
            return tmpl;
        if (errno != EEXIST && errno != EACCES)   /* Wine: EACCES too */
            return NULL;
    }
    return NULL;
}

#undef remove
int
cds_win32_remove(const char *path)
{
    DWORD attr = GetFileAttributesA(path);
    if (attr != INVALID_FILE_ATTRIBUTES && (attr & FILE_ATTRIBUTE_DIRECTORY))
        return _rmdir(path);
    return remove(path);
}

int
setenv(const char *name, const char *value, int overwrite)
{
    if (!overwrite && getenv(name))
        return 0;
    return _putenv_s(name, value) == 0 ? 0 : (errno = EINVAL, -1);
}

int
unsetenv(const char *name)
{
    return _putenv_s(name, "") == 0 ? 0 : (errno = EINVAL, -1);
}

int
cds_win32_fsync_dir(const char *dir)
{
    HANDLE h = CreateFileA(dir, GENERIC_READ | GENERIC_WRITE,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        errno = e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND ? ENOENT : EACCES;
        return -1;
    }
    BOOL ok = FlushFileBuffers(h);
    CloseHandle(h);
    return ok ? 0 : (errno = EIO, -1);
}

#undef strerror
char *
cds_win32_strerror(int e)
{
    switch (e) {
    case ECONNREFUSED:
    case WSAECONNREFUSED: return (char *) "Connection refused";   /* SO_ERROR */
    case ETIMEDOUT:
    case WSAETIMEDOUT: return (char *) "Connection timed out";
    case WSAEHOSTUNREACH: return (char *) "No route to host";
    case WSAENETUNREACH: return (char *) "Network is unreachable";
    case EINPROGRESS: return (char *) "Operation now in progress";
    case ECONNRESET: return (char *) "Connection reset by peer";
    case EHOSTUNREACH: return (char *) "No route to host";
    case ENETUNREACH: return (char *) "Network is unreachable";
    case EADDRINUSE: return (char *) "Address already in use";
    default: return strerror(e);
    }
}
