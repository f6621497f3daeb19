/*  revocation: see revocation.h. */
#include "revocation.h"

#include "cds_codec.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REVOCATION_MAX_BYTES 4096      /* a Notice envelope is ~300 bytes */

static int
file_path(const char *state_dir, const char *suffix, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/" REVOCATION_FILE "%s", state_dir, suffix);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
revocation_decode(const uint8_t *body, size_t len,
                  const uint8_t agent_pk[CDS_PK_BYTES], revocation_t *out)
{
    int err = CDS_OK;
    Cdsync__Notice *n = cds_msg_decode(&cdsync__notice__descriptor, body,
                                       len, &err);
    int rc = CDS_EMALFORMED;
    memset(out, 0, sizeof *out);
    if (n && n->reason == CDSYNC__NOTICE_REASON__NOTICE_REVOKED
        && n->agent.len == CDS_PK_BYTES
        && (!agent_pk
            || sodium_memcmp(n->agent.data, agent_pk, CDS_PK_BYTES) == 0)) {
        cds_fingerprint(n->agent.data, out->agent_fpr);
        out->revoked_at_ms = n->revoked_at_ms;
        snprintf(out->replaced_by, sizeof out->replaced_by, "%s",
                 n->replaced_by ? n->replaced_by : "");
        snprintf(out->message, sizeof out->message, "%s",
                 n->message ? n->message : "");
        rc = CDS_OK;
    }
    cds_msg_free(n);
    return rc;
}

/* Write all of data to a new file tmp (0600), fsync it. 0 or -1. Hand
 * written: common/ has no small-file writer (backup.c renames database
 * copies its own way), and none of our libraries offers one. */
static int
write_new(const char *tmp, const uint8_t *data, size_t len)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int rc = off == len && fsync(fd) == 0 ? 0 : -1;
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

int
revocation_save(const char *state_dir, const uint8_t *raw, size_t len)
{
    char path[600], tmp[610];
    if (file_path(state_dir, "", path, sizeof path) != 0
        || file_path(state_dir, ".tmp", tmp, sizeof tmp) != 0)
        return CDS_EIO;
    if (write_new(tmp, raw, len) != 0 || rename(tmp, path) != 0) {
        cds_log(CDS_LOG_ERROR, "revocation_not_saved", "path=%s error=%s",
                cds_logq(path), cds_logq(strerror(errno)));
        unlink(tmp);
        return CDS_EIO;
    }
    cds_fsync_dir(path);
    return CDS_OK;
}

int
revocation_load(const char *state_dir, revocation_t *out)
{
    char path[600], *data = NULL;
    size_t len = 0;
    Cdsync__Envelope *env = NULL;
    if (file_path(state_dir, "", path, sizeof path) != 0)
        return CDS_EIO;
    int rc = cds_read_file(path, REVOCATION_MAX_BYTES, &data, &len);
    if (rc != CDS_OK)
        return rc == CDS_EIO && errno == ENOENT ? CDS_ENOTFOUND : rc;
    rc = cds_envelope_decode((const uint8_t *)data, len, &env);
    if (rc == CDS_OK && env->kind != CDSYNC__KIND__KIND_NOTICE)
        rc = CDS_EMALFORMED;
    /* The daemon checked signer, signature and recipient before saving
     * (revocation.h): the file is ours, not the network's. */
    if (rc == CDS_OK)
        rc = revocation_decode(env->body.data, env->body.len, NULL, out);
    cds_msg_free(env);
    free(data);
    return rc;
}

int
revocation_clear(const char *state_dir)
{
    char path[600];
    if (file_path(state_dir, "", path, sizeof path) != 0)
        return CDS_EIO;
    if (unlink(path) != 0 && errno != ENOENT) {
        cds_log(CDS_LOG_WARN, "revocation_not_cleared", "path=%s error=%s",
                cds_logq(path), cds_logq(strerror(errno)));
        return CDS_EIO;
    }
    return CDS_OK;
}
