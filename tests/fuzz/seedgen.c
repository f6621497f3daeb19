/*  seedgen: writes valid messages as seed corpora for the fuzz harnesses:
 *      seedgen OUTDIR    -> OUTDIR/envelope/*, OUTDIR/batch/*, OUTDIR/period/*
 *  (run.sh adds the file-based seeds from deploy/). Built with the normal
 *  toolchain against build/libcdsync.a. */
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_log.h"
#include "cds_update.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void
put(const char *dir, const char *kind, const char *name, const void *p,
    size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, kind);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", dir, kind, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static void
seal_put(const char *dir, const cds_identity_t *id, Cdsync__Kind kind,
         const ProtobufCMessage *m, const char *name)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    static const uint8_t recipient[CDS_PK_BYTES] = { 1 };
    if (cds_envelope_seal_msg(id, kind, recipient, m, &buf, &len) != CDS_OK)
        exit(1);
    put(dir, "envelope", name, buf, len);
    free(buf);
}

/* A three-update batch as the agent builds it. */
static void
batch_seeds(const char *dir, const cds_identity_t *id)
{
    cds_update_t u[3] = {
        { 1, "27901", "TTHC_TONG", "202501", "default", "12", "ghi chú",
          "can.bo", false, false, 1ull << 40 },
        { 2, "27901", "HGD_CAPQUANG", "2025Q1", "default", "87.5", "",
          "can.bo", false, true, 2ull << 40 },
        { 3, "27904", "NTM8_4", "2024", "default", "", "", "x", true, false,
          3ull << 40 },
    };
    Cdsync__Update pb[3], *ptrs[3];
    uint8_t prev[CDS_HASH_BYTES] = { 0 }, head[CDS_HASH_BYTES], h[32];
    memcpy(head, prev, sizeof head);
    for (int i = 0; i < 3; i++) {
        cdsync__update__init(&pb[i]);
        cds_update_to_pb(&u[i], &pb[i]);
        ptrs[i] = &pb[i];
        cds_update_hash(&u[i], h);
        cds_chain_next(head, h, head);
    }
    Cdsync__Batch b = CDSYNC__BATCH__INIT;
    b.version = CDS_PROTOCOL_VERSION;
    b.agent.data = (uint8_t *) cds_identity_sign_pk(id);
    b.agent.len = CDS_PK_BYTES;
    b.catalog_version = "0123456789abcdef0123456789abcdef";
    b.first_seq = 1;
    b.last_seq = 3;
    b.prev_head.data = prev;
    b.prev_head.len = CDS_HASH_BYTES;
    b.head.data = head;
    b.head.len = CDS_HASH_BYTES;
    b.n_updates = 3;
    b.updates = ptrs;
    size_t len = 0;
    uint8_t *body = cds_msg_encode(&b.base, &len);
    put(dir, "batch", "batch3", body, len);
    free(body);
    seal_put(dir, id, CDSYNC__KIND__KIND_BATCH, &b.base, "batch3");
    b.n_updates = 1;
    b.last_seq = 1;
    body = cds_msg_encode(&b.base, &len);
    put(dir, "batch", "batch1", body, len);
    free(body);
}

static void
other_seeds(const char *dir, const cds_identity_t *id)
{
    Cdsync__Hello h = CDSYNC__HELLO__INIT;
    h.version = CDS_PROTOCOL_VERSION;
    h.agent.data = (uint8_t *) cds_identity_sign_pk(id);
    h.agent.len = CDS_PK_BYTES;
    seal_put(dir, id, CDSYNC__KIND__KIND_HELLO, &h.base, "hello");
    Cdsync__Ack a = CDSYNC__ACK__INIT;
    a.version = CDS_PROTOCOL_VERSION;
    a.agent = h.agent;
    a.aggregator = h.agent;
    a.acked_seq = 3;
    a.committed_at_ms = 1764300000000ull;
    a.message = "";
    seal_put(dir, id, CDSYNC__KIND__KIND_ACK, &a.base, "ack");
    Cdsync__Heartbeat hb = CDSYNC__HEARTBEAT__INIT;
    hb.agent = h.agent;
    seal_put(dir, id, CDSYNC__KIND__KIND_HEARTBEAT, &hb.base, "heartbeat");
    static const char *const periods[] = {
        "2023", "2023S1", "2023Q4", "202303", "2023W10", "2020W53",
        "20230315", "20240229", "2023-03-15", "2023WedW1", "2025SunW53",
        "2020BiW27", "202301B", "2023NovQ1", "2023AprilS2", "2023NovS1",
        "2023April", "2023July", "2023Sep", "2023Oct", "2023Nov",
    };
    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%zu", i);
        put(dir, "period", name, periods[i], strlen(periods[i]));
    }
}

int
main(int argc, char **argv)
{
    char tmp[] = "/tmp/seedgen.XXXXXX", path[64];
    int err = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: seedgen OUTDIR\n");
        return 2;
    }
    cds_log_init("seedgen", CDS_LOG_ERROR);
    mkdir(argv[1], 0755);
    if (!mkdtemp(tmp))
        return 1;
    snprintf(path, sizeof path, "%s/id.key", tmp);
    if (cds_identity_generate(path, "seed") != CDS_OK)
        return 1;
    cds_identity_t *id = cds_identity_load(path, &err, NULL, 0);
    remove(path);
    remove(tmp);
    if (!id)
        return 1;
    batch_seeds(argv[1], id);
    other_seeds(argv[1], id);
    cds_identity_destroy(&id);
    return 0;
}
