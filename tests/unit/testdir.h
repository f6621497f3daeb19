/*  testdir: removing the private temporary directory a unit test made
 *  with mkdtemp(3), and everything below it.
 *
 *  Invariant: depth first, symbolic links are removed, never followed.
 *  Header only, because every tests/unit/<name>_test.c is its own
 *  program. */
#ifndef TESTS_UNIT_TESTDIR_H
#define TESTS_UNIT_TESTDIR_H

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

#endif
