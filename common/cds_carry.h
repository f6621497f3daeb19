/*  cds_carry: the file an officer carries by hand (a USB stick) when a
 *  commune has no link: the agent's signed batches to the aggregator
 *  (`cdsync-agent export-batches`), and the aggregator's signed acks back
 *  (`cdsync-aggregator import-batches --receipt`, `cdsync-agent
 *  import-receipt`). docs/AGENT.md "By USB" describes the use.
 *
 *  Trust: none in the carrier. Every record after the header is an
 *  Envelope exactly as it would cross the link, so its signature is the
 *  proof (a batch verifies only for that aggregator and only if its key is
 *  enrolled there; an ack only for that agent). The checksum catches a
 *  damaged stick or a flipped byte before anything is applied; the file
 *  holds no secret.
 *
 *  Format, version 1 (all integers little-endian):
 *    "CDSYNC-CARRY 1\n"                      magic line, 15 bytes
 *    "summary-bytes N\n"                     N in decimal, N <= 65536
 *    N bytes of UTF-8 text                   what is in the file, for a
 *                                            person (`head FILE` shows it)
 *    u32 length + CarryHeader (protobuf)     record 0, <= 65536 bytes
 *    header.count times: u32 length + one Envelope (<= CDS_MAX_MSG_BYTES)
 *    32 bytes: BLAKE2b-256 (crypto_generichash, unkeyed) of every byte
 *              before it
 *  Nothing may follow the checksum. The whole file is at most
 *  CDS_CARRY_MAX_BYTES and holds at most CDS_CARRY_MAX_RECORDS envelopes.
 *
 *  Writing is atomic: a temporary file beside the target (O_CREAT|O_EXCL,
 *  so never through a symlink), fsync, then a rename that refuses to
 *  replace anything (renameat2 RENAME_NOREPLACE), then fsync of the
 *  directory. A target that exists (file, symlink, anything) is refused:
 *  nothing is ever overwritten, and a failed write leaves no file. */
#ifndef CDS_CARRY_H
#define CDS_CARRY_H

#include "cdsync.pb-c.h"
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CDS_CARRY_MAGIC "CDSYNC-CARRY 1\n"
#define CDS_CARRY_VERSION 1
#define CDS_CARRY_MAX_BYTES (256u << 20)  /* whole file */
#define CDS_CARRY_MAX_RECORDS 65536u       /* envelopes in one file */
#define CDS_CARRY_MAX_SUMMARY 65536u       /* bytes of summary text */
#define CDS_CARRY_MAX_HEADER 65536u        /* bytes of the header record */
#define CDS_CARRY_SUM_BYTES 32             /* the BLAKE2b-256 checksum */

/* A carry file read and checked (cds_carry_read). Owns everything. */
typedef struct {
    Cdsync__CarryHeader *header;       /* decoded record 0 */
    const char *summary;               /* the text part, NUL-terminated */
    size_t n;                          /* envelopes */
    const uint8_t **env;               /* env[i]: bytes inside data */
    size_t *env_len;                   /* their lengths */
    uint64_t *env_off;                 /* file offset of each envelope */
    uint8_t *data;                     /* the whole file */
    size_t len;
    char *summary_buf;                 /* owns summary */
} cds_carry_t;

/* Read path (a regular file, <= CDS_CARRY_MAX_BYTES) and check it before
 * anything of it is used: magic, summary length and UTF-8, every record
 * length within its bound and the file, checksum, header version and kind
 * == want, header.count == records. CDS_OK with *out (free with
 * cds_carry_destroy); else CDS_EIO (cannot read), CDS_ETOOBIG,
 * CDS_EMALFORMED or CDS_EVERSION with "PATH: offset N: what" in err. */
int cds_carry_read(const char *path, Cdsync__CarryKind want,
                   cds_carry_t **out, char *err, size_t errlen);
/* Free; sets *self_p to NULL. Safe on NULL. */
void cds_carry_destroy(cds_carry_t **self_p);

/* CDS_OK when path could be written: it does not exist (not even as a
 * dangling symlink) and its directory does. Else CDS_EUSAGE (exists) or
 * CDS_EIO, with the reason in err. Commands call it before they change
 * anything, so a bad target costs nothing. */
int cds_carry_check_target(const char *path, char *err, size_t errlen);

/* Write a carry file atomically (header above). h->count is set to n.
 * CDS_OK; CDS_ETOOBIG over a bound; CDS_EUSAGE when path exists; CDS_EIO
 * (err says which step). Nothing is left at path unless CDS_OK. */
int cds_carry_write(const char *path, Cdsync__CarryHeader *h,
                    const char *summary, uint8_t *const *env,
                    const size_t *env_len, size_t n, char *err,
                    size_t errlen);

/* ms since the epoch broken down as Viet Nam time (Asia/Ho_Chi_Minh:
 * UTC+07:00, no daylight saving since 1975), without the system's zone
 * (a commune PC's is often wrong). 0, or -1 when out of range. */
int cds_vn_tm(uint64_t ms, struct tm *tm);
/* ms as Viet Nam time, "2026-12-03 07:40:12 (UTC+07:00)". Returns buf. */
char *cds_carry_time_vn(char *buf, size_t len, uint64_t ms);

#endif
