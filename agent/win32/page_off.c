/*  page_off: the officer's page (../page.h) on Windows, switched off.
 *
 *  agent/page.c loads libmicrohttpd with dlopen and serves on a POSIX
 *  thread; the Windows build does not build libmicrohttpd yet (issue 18
 *  item 5 will, linked in statically). Until then `open` fails with this
 *  message, and nothing else in the agent depends on the page. */
#include "page.h"

#include <stdio.h>

#define OFF "the officer's page (open) is not available in the Windows " \
            "build yet; use submit or import"

int
page_parse_listen(const char *listen, char *err, size_t errlen)
{
    (void) listen;
    snprintf(err, errlen, "%s", OFF);
    return -1;
}

page_t *
page_start(const page_config_t *cfg, char *err, size_t errlen)
{
    (void) cfg;
    snprintf(err, errlen, "%s", OFF);
    return NULL;
}

void
page_destroy(page_t **self_p)
{
    (void) self_p;
}

int
page_login_url(page_t *self, char *url, size_t len)
{
    (void) self;
    (void) url;
    (void) len;
    return -1;
}
