/*  olddb: an aggregator database as an older program left it, for the
 *  upgrade tests only (tests/integration/upgrade_backup.sh).
 *      olddb PATH VERSION
 *  creates PATH with the first VERSION schema migrations of this program
 *  applied (PRAGMA user_version = VERSION) and nothing else, which is what
 *  a program of that schema version writes on its first start. Exit 0, 2 on
 *  usage, 3 when the database cannot be made. */
#include "cds_db.h"
#include "cds_err.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
    char *end = NULL;
    long v = argc == 3 ? strtol(argv[2], &end, 10) : -1;
    if (argc != 3 || *end || v < 1 || v > store_schema_version()) {
        fprintf(stderr, "usage: olddb PATH VERSION (1..%d)\n",
                store_schema_version());
        return 2;
    }
    int err = CDS_OK;
    cds_db_t *db = cds_db_open(argv[1], store_migrations(), (int) v, 0, &err);
    if (!db) {
        fprintf(stderr, "olddb: %s: %s\n", argv[1], cds_strerror(err));
        return 3;
    }
    cds_db_close(&db);
    return 0;
}
