/*  cds_update: one data-value change, its content hash and the hash chain.
 *
 *  The content hash is computed over a canonical encoding of the fields
 *  (not over protobuf bytes, which are not canonical), so agent and
 *  aggregator agree on it whatever encoder was used:
 *      BLAKE2b-256( "cdsync-update/1" || u64le(seq)
 *                   || for org_unit, indicator, period, disagg, value,
 *                      comment, stored_by: u32le(len) || bytes
 *                   || u8(deleted) || u8(followup) || u64le(hlc)
 *                   [ || u64le(created_ms) || u64le(updated_ms) ] )
 *  the bracketed part only when created_ms or updated_ms is not 0 (they
 *  came later, protocol fields 12 and 13: an update without them hashes
 *  exactly as before, so older agents' chains still verify).
 *  NULL strings hash as empty. len is the field's length in bytes on the
 *  wire (protobuf length prefix), computed here as strlen(): the two agree
 *  because a string holding a NUL byte is refused at decode (cds_codec.h),
 *  so every decoder, in any language, hashes the same bytes. The chain is
 *      head(seq) = BLAKE2b-256( "cdsync-chain/1" || head(seq-1) || hash(seq) )
 *  with head(0) = 32 zero bytes. Equal heads at seq s mean both sides hold
 *  the same content for every seq <= s. */
#ifndef CDS_UPDATE_H
#define CDS_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CDS_HASH_BYTES 32

/* Size bounds on every text field (bytes, UTF-8). */
#define CDS_MAX_CODE 64        /* org_unit, indicator, period, disagg */
#define CDS_MAX_VALUE 1024
#define CDS_MAX_COMMENT 1024
#define CDS_MAX_STORED_BY 128

typedef struct {
    uint64_t seq;              /* per-agent sequence number (0: not yet) */
    const char *org_unit;      /* borrowed; DHIS2 orgUnit code */
    const char *indicator;     /* borrowed; DHIS2 dataElement code */
    const char *period;        /* borrowed; DHIS2 period identifier */
    const char *disagg;        /* borrowed; "default" when none */
    const char *value;         /* borrowed; canonical text, "" if deleted */
    const char *comment;       /* borrowed; may be NULL */
    const char *stored_by;     /* borrowed; may be NULL */
    bool deleted;              /* a delete of the key */
    bool followup;             /* DHIS2 followup flag */
    uint64_t hlc;              /* hybrid logical clock timestamp */
    uint64_t created_ms;       /* source system's created (0: not given) */
    uint64_t updated_ms;       /* source system's lastUpdated (0: none) */
} cds_update_t;

/* Content hash of u (see above). */
void cds_update_hash(const cds_update_t *u, uint8_t out[CDS_HASH_BYTES]);
/* out = next chain head after prev with content hash h. out may alias prev. */
void cds_chain_next(const uint8_t prev[CDS_HASH_BYTES],
                    const uint8_t h[CDS_HASH_BYTES],
                    uint8_t out[CDS_HASH_BYTES]);
/* Check lengths, UTF-8 and non-empty key fields, and control bytes
 * (0x01-0x1F, 0x7F): codes are printable ASCII only; value and stored_by
 * hold none; comment holds none but TAB, LF, CR. CDS_OK or CDS_EBADFIELD /
 * CDS_ETOOBIG with *field naming the field (borrowed static string: the
 * DHIS2 CSV column name, "value", "comment", "storedby"). */
int cds_update_check_fields(const cds_update_t *u, const char **field);

/* Set every field of u that a history row does not keep to NULL: longer
 * than its bound (CDS_MAX_CODE, _VALUE, _COMMENT, _STORED_BY; refused
 * too_big, its bytes are stored once, in the kept signed batch, not twice)
 * or not valid UTF-8 (refused bad_field; PostgreSQL's text cannot hold it,
 * and the kept batch has the bytes). Returns how many fields were
 * dropped. */
int cds_update_drop_unkept(cds_update_t *u);

/* The field of u named by its DHIS2 CSV column name (as
 * cds_update_check_fields names it), or NULL for an unknown name. */
const char *cds_update_field(const cds_update_t *u, const char *name);

#endif
