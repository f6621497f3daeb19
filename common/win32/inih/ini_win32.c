/*  ini_win32: inih's ini_parse over Windows' own INI reader. See ini.h for
 *  why (libinih's source is not served by the mirror here) and for what is
 *  kept of inih's behaviour and what is not.
 *
 *  kernel32 does the reading: GetPrivateProfileSectionNamesW lists the
 *  sections, GetPrivateProfileSectionW gives each section's lines with
 *  whole-line ';' comments and blank lines left out (and a byte-order mark
 *  read). This file converts between UTF-8 and UTF-16, splits each line into
 *  name and value the way inih does, and calls the handler. */
#include "ini.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#define LIST_MAX (16u << 20) /* wide chars; a config is a few KiB */

/* UTF-8 -> UTF-16, malloc'd; NULL when out of memory or invalid. */
static wchar_t *
to_wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t) n * sizeof *w) : NULL;
    if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
        free(w);
        w = NULL;
    }
    return w;
}

/* UTF-16 -> UTF-8, malloc'd; NULL when out of memory. */
static char *
to_utf8(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s = n > 0 ? malloc((size_t) n) : NULL;
    if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
        free(s);
        s = NULL;
    }
    return s;
}

/* The section list (section NULL) or one section's lines: NUL-separated,
 * ended by an empty string. Both calls answer size - 2 when the buffer is
 * too small, so it grows until the answer fits. malloc'd; NULL: no memory. */
static wchar_t *
profile_list(const wchar_t *file, const wchar_t *section)
{
    for (DWORD cap = 4096; cap <= LIST_MAX; cap *= 2) {
        wchar_t *buf = malloc(cap * sizeof *buf);
        if (!buf)
            return NULL;
        DWORD n = section ? GetPrivateProfileSectionW(section, buf, cap, file)
                          : GetPrivateProfileSectionNamesW(buf, cap, file);
        if (n < cap - 2) {
            buf[n] = buf[n + 1] = L'\0';
            return buf;
        }
        free(buf);
    }
    return NULL;
}

static char *
trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r\n", s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Cut an inline comment: ';' after whitespace (inih's
 * INI_INLINE_COMMENT_PREFIXES in Debian's build). */
static void
cut_comment(char *s)
{
    for (char *p = s + 1; *s && *p; p++)
        if (*p == ';' && (p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
}

/* One line of a section: 1 accepted or a comment, 0 refused by the
 * handler, -1 not "name = value" (copied into bad when given). */
static int
one_entry(char *line, const char *section, ini_handler handler, void *user,
          char *bad, size_t badlen)
{
    char *s = trim(line);
    if (*s == '\0' || *s == ';' || *s == '#')
        return 1;
    char *sep = s + strcspn(s, "=:");
    if (*sep == '\0') {
        if (bad && badlen)
            snprintf(bad, badlen, "[%s] %s", section, s);
        return -1;
    }
    *sep = '\0';
    cut_comment(sep + 1);
    return handler(user, section, trim(s), trim(sep + 1)) ? 1 : 0;
}

/* Every entry of one section, counting them in *ordinal; the first
 * failure's ordinal goes into *first. 0, or -2 when out of memory. */
static int
one_section(const wchar_t *file, const wchar_t *wsec, ini_handler handler,
            void *user, int *ordinal, int *first, char *bad, size_t badlen)
{
    char *section = to_utf8(wsec);
    wchar_t *lines = section ? profile_list(file, wsec) : NULL;
    int rc = lines ? 0 : -2;
    for (const wchar_t *l = lines; l && *l && rc == 0; l += wcslen(l) + 1) {
        char *line = to_utf8(l);
        if (!line) {
            rc = -2;
            break;
        }
        ++*ordinal;
        int ok = one_entry(line, section, handler, user,
                           *first ? NULL : bad, badlen);
        if (ok <= 0 && !*first)
            *first = *ordinal;
        free(line);
    }
    free(lines);
    free(section);
    return rc;
}

/* Has an earlier name in the list (up to end) the same name, as Windows
 * compares them? Then GetPrivateProfileSectionW already gave its lines. */
static int
seen_before(const wchar_t *list, const wchar_t *end)
{
    for (const wchar_t *s = list; s < end; s += wcslen(s) + 1)
        if (CompareStringOrdinal(s, -1, end, -1, TRUE) == CSTR_EQUAL)
            return 1;
    return 0;
}

int
ini_parse_win32(const char *filename, ini_handler handler, void *user,
                char *bad, size_t badlen)
{
    wchar_t *rel = to_wide(filename), full[MAX_PATH * 4];
    /* A name without a directory would be looked for in C:\Windows. */
    DWORD n = rel ? GetFullPathNameW(rel, MAX_PATH * 4, full, NULL) : 0;
    free(rel);
    if (n == 0 || n >= MAX_PATH * 4)
        return -1;
    DWORD attr = GetFileAttributesW(full);
    if (attr == INVALID_FILE_ATTRIBUTES || (attr & FILE_ATTRIBUTE_DIRECTORY))
        return -1;
    wchar_t *names = profile_list(full, NULL);
    if (!names)
        return -2;
    /* Names before the first section: Wine gives them as section "". */
    int ordinal = 0, first = 0;
    int rc = one_section(full, L"", handler, user, &ordinal, &first, bad,
                         badlen);
    for (const wchar_t *s = names; *s && rc == 0; s += wcslen(s) + 1) {
        if (!seen_before(names, s)) {
            rc = one_section(full, s, handler, user, &ordinal, &first, bad,
                             badlen);
            continue;
        }
        /* kernel32 would give only the first one's lines: refuse. */
        ++ordinal;
        if (!first) {
            first = ordinal;
            if (bad && badlen)
                snprintf(bad, badlen, "[%ls] (a section given twice)", s);
        }
    }
    free(names);
    return rc ? rc : first;
}

int
ini_parse(const char *filename, ini_handler handler, void *user)
{
    return ini_parse_win32(filename, handler, user, NULL, 0);
}
