/* kiln: URLs as they may be shown (see include/kiln/url.h). A repo or endpoint URL
 * written as https://user:password@host/ must never reach an error message, a log or
 * `kiln config`: only the scheme, host and path are shown. */
#include "kiln/url.h"

#include <stdio.h>
#include <string.h>

const char *kiln_url_redacted(const char *url, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    const char *authority = url ? strstr(url, "://") : NULL;
    if (authority == NULL) {
        snprintf(buf, n, "%s", url ? url : "");
        return buf;
    }
    authority += 3;
    /* The authority ends at the first '/', '?' or '#'; its userinfo at its last '@'. */
    size_t alen = strcspn(authority, "/?#");
    const char *at = NULL;
    for (const char *p = authority; p < authority + alen; p++)
        if (*p == '@')
            at = p;
    if (at == NULL) {
        snprintf(buf, n, "%s", url);
        return buf;
    }
    snprintf(buf, n, "%.*s***%s", (int)(authority - url), url, at);
    return buf;
}
