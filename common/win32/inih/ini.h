/*  ini.h (Windows, without libinih): inih's parsing entry point over the
 *  INI reader Windows itself ships in kernel32.
 *
 *  Why: the agent reads its config and its identity file with libinih (Debian
 *  package libinih). For the Windows build deploy/windows/deps.sh builds the
 *  libraries from Debian's source packages, but the archive mirror here does
 *  not serve libinih's source tarball (its .dsc is there, the .orig.tar.gz is
 *  404). Rather than hand-roll a parser, the Windows build uses the
 *  platform's packaged INI reader, GetPrivateProfileSectionNamesW and
 *  GetPrivateProfileSectionW, behind inih's interface. This header and
 *  ini_win32.c are used only when build/win/deps has no ini.h
 *  (deploy/windows/windows.mk); `INIH_SRC=dir sh deploy/windows/deps.sh`
 *  builds Debian's inih instead and these files are left out.
 *
 *  What stays as inih (Debian's build): the handler is called once per
 *  "name = value" in file order within a section, repeated names included;
 *  whole-line comments start with ';' or '#'; an inline comment is ';'
 *  after whitespace; a UTF-8 byte-order mark is skipped; names and values
 *  are trimmed; strings reach the handler in UTF-8; names before the first
 *  section come with section "" (asked of kernel32 as section "": Wine
 *  answers so; not checked on Windows itself).
 *  What differs (docs/WINDOWS.md): no line numbers (the return value of a
 *  failure is the failing entry's ordinal, not its line); an indented line is
 *  an entry, never a continuation; a section given twice (names compare
 *  case-insensitively) is refused as a syntax error, since kernel32 would
 *  read only its first place; a malformed "[section" line is an entry that
 *  is not "name = value". */
#ifndef CDS_WIN32_INI_H
#define CDS_WIN32_INI_H

#include <stddef.h>

/* Marks this header so callers can word their messages (no line numbers). */
#define CDS_INI_WIN32 1

/* As inih: non-zero to go on, zero for an error on this entry. */
typedef int (*ini_handler)(void *user, const char *section, const char *name,
                           const char *value);

/* Parse the INI file at filename (UTF-8), calling handler for each entry.
 * 0 when every entry was accepted; -1 when the file cannot be opened; -2
 * when out of memory; else the 1-based ordinal of the first entry that the
 * handler refused or that is not "name = value" (parsing goes on, as inih's
 * does with INI_STOP_ON_FIRST_ERROR 0). */
int ini_parse(const char *filename, ini_handler handler, void *user);

/* As ini_parse; when an entry is not "name = value", copy it (UTF-8,
 * truncated) into bad, as "[section] text". bad may be NULL: for a file of
 * secrets, whose lines must not reach a message. */
int ini_parse_win32(const char *filename, ini_handler handler, void *user,
                    char *bad, size_t badlen);

#endif
