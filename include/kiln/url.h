/* kiln: URLs as they may be shown: a URL's userinfo ("user:password@") is a secret
 * (src/util/url.c). */
#ifndef KILN_URL_H
#define KILN_URL_H

#include <stddef.h>

/* Writes url into buf with the userinfo of its authority replaced by three stars
 * (https://user:pw@host/x becomes https://<stars>@host/x); anything that is not such
 * a URL is copied as it is.
 * Returns buf. */
const char *kiln_url_redacted(const char *url, char *buf, size_t n);

#endif
