/*  cmarkpg: drives aggregator/core/commitmark (and dbsize) on a live
 *  PostgreSQL database started by tests/pg/pg.sh, for
 *  tests/integration/pg_commitmark.sh, through a store on that database
 *  (store_open makes or migrates its schema, as the daemon's start does).
 *
 *    cmarkpg URL BASE     open the store (migrating a new database), then read
 *                         commands from stdin, one a line, and answer
 *                         each with one line on stdout (flushed):
 *      check              commitmark_check: "check state=S runs=0|1"
 *                         then "msg TEXT"
 *      group              one acking group commit: begin, bump, commit,
 *                         sync: "group ok counter=N" or "group error=E"
 *                         (rolled back)
 *      accept NOTE        commitmark_accept of the last checked state:
 *                         "accept ok event=N" or "accept error=E"
 *      facts              "facts counter=N system_id=S timeline=T oid=O
 *                         name=D" as the database and server say now
 *      pid                "pid=P": this connection's backend
 *      size               dbsize_read: "size db=B rejects=R rows=N wal=W"
 *      quit
 *  The mark file is BASE.commitmark. Exit 0 after quit or end of input,
 *  2 on usage or when the connection cannot be made. */
#include "cds_err.h"
#include "cds_log.h"
#include "cds_sql.h"
#include "commitmark.h"
#include "dbsize.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static commitmark_state_t last_state = COMMITMARK_OK;

static void
do_check(commitmark_t *cm)
{
    char msg[1536];
    int rc = commitmark_check(cm, &last_state, msg, sizeof msg);
    if (rc != CDS_OK) {
        printf("check error=%s\nmsg\n", cds_strerror(rc));
        return;
    }
    printf("check state=%s runs=%d\nmsg %s\n",
           commitmark_state_name(last_state),
           commitmark_state_runs(last_state) ? 1 : 0, msg);
}

static void
do_group(cds_sql_t *db, commitmark_t *cm)
{
    int rc = cds_sql_begin(db);
    if (rc == CDS_OK)
        rc = commitmark_bump(cm);
    if (rc == CDS_OK)
        rc = cds_sql_commit(db);
    if (rc != CDS_OK) {
        cds_sql_rollback(db);
        printf("group error=%s\n", cds_strerror(rc));
        return;
    }
    rc = commitmark_sync(cm);
    commitmark_record_t r;
    if (rc == CDS_OK)
        rc = commitmark_file_read(commitmark_path(cm), &r);
    if (rc != CDS_OK)
        printf("group error=%s\n", cds_strerror(rc));
    else
        printf("group ok counter=%llu\n", (unsigned long long) r.counter);
}

static void
do_facts(commitmark_t *cm)
{
    commitmark_record_t d;
    int rc = commitmark_db_get(cm, &d);
    if (rc != CDS_OK) {
        printf("facts error=%s\n", cds_strerror(rc));
        return;
    }
    printf("facts counter=%llu system_id=%llu timeline=%u oid=%u name=%s\n",
           (unsigned long long) d.counter, (unsigned long long) d.system_id,
           d.timeline, d.db_oid, d.db_name);
}

static void
do_other(cds_sql_t *db, commitmark_t *cm, const char *line)
{
    if (!strncmp(line, "accept ", 7)) {
        int64_t ev = 0;
        int rc = commitmark_accept(cm, last_state, line + 7, 1000, &ev);
        if (rc == CDS_OK)
            printf("accept ok event=%lld\n", (long long) ev);
        else
            printf("accept error=%s\n", cds_strerror(rc));
    } else if (!strcmp(line, "pid")) {
        printf("pid=%d\n", PQbackendPID(cds_pg_handle(cds_sql_pg(db))));
    } else if (!strcmp(line, "size")) {
        dbsize_t z;
        int rc = dbsize_read(db, &z);
        printf("size rc=%s db=%lld rejects=%lld rows=%lld wal=%lld\n",
               cds_strerror(rc), (long long) z.db_bytes,
               (long long) z.rejects_bytes, (long long) z.rejects_rows,
               (long long) z.wal_bytes);
    } else
        printf("unknown command %s\n", line);
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: cmarkpg URL BASE (commands on stdin)\n");
        return 2;
    }
    int err = 0;
    store_t *store = store_open(argv[1], 0, &err);
    commitmark_t *cm = store ? commitmark_new(store, argv[2]) : NULL;
    cds_sql_t *db = store ? store_sql(store) : NULL;
    if (!cm) {
        printf("open error=%s\n", cds_strerror(store ? CDS_ERROR : err));
        store_destroy(&store);
        return 2;
    }
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strcmp(line, "quit"))
            break;
        if (!strcmp(line, "check"))
            do_check(cm);
        else if (!strcmp(line, "group"))
            do_group(db, cm);
        else if (!strcmp(line, "facts"))
            do_facts(cm);
        else
            do_other(db, cm, line);
        fflush(stdout);
    }
    commitmark_destroy(&cm);
    store_destroy(&store);
    return 0;
}
