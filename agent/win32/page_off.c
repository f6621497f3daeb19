/*  page_off: the officer's page (../page.h) on Windows, switched off.
 *
 *  Built instead of agent/page.c only when the Windows deps directory has
 *  no libmicrohttpd (deploy/windows/windows.mk, WIN_NO_PAGE: its source
 *  package could not be fetched or built by deploy/windows/deps.sh).
 *  `open` then fails with this message, and nothing
 *  else in the agent depends on the page. */
#include "page.h"

#include <stdio.h>

#define OFF "the officer's page (open) is not in this build (built " \
            "without libmicrohttpd: sh deploy/windows/deps.sh, then make " \
            "windows); use submit or import"

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
