/*  testdir: the private temporary directory a unit test made with
 *  mkdtemp(3): identities generated in it, and its removal with
 *  everything below it.
 *
 *  Invariant: removal is depth first; symbolic links are removed, never
 *  followed. Header only, because every tests/unit/<name>_test.c is its
 *  own program; include it after <cmocka.h>. */
#ifndef TESTS_UNIT_TESTDIR_H
#define TESTS_UNIT_TESTDIR_H

#include "cds_err.h"
#include "cds_id.h"

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static int
testdir_rm_one(const char *p, const struct stat *sb, int flag,
               struct FTW *ftw)
{
    (void) sb, (void) flag, (void) ftw;
    return remove(p);
}

/* Remove dir and all it holds; best effort (a test's last step). */
static inline void
testdir_remove(const char *dir)
{
    nftw(dir, testdir_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A new identity in dir/<name>.key, loaded (the test fails otherwise). */
static inline cds_identity_t *
testdir_identity(const char *dir, const char *name)
{
    char path[256];
    int err = 0;
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    assert_int_equal(cds_identity_generate(path, name), CDS_OK);
    cds_identity_t *id = cds_identity_load(path, &err, NULL, 0);
    assert_non_null(id);
    return id;
}

#endif
