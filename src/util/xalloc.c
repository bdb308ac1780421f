/* kiln: allocation that cannot fail (see include/kiln/xalloc.h). */
#include "kiln/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void (*oom_hook)(void);

void kiln_set_oom_hook(void (*hook)(void))
{
    oom_hook = hook;
}

_Noreturn void kiln_oom(size_t size)
{
    if (oom_hook != NULL)
        oom_hook();
    /* snprintf may itself want memory in odd locales; write() into a stack buffer
     * with a fixed message is the most that can be trusted here. */
    char msg[128];
    int n = snprintf(msg, sizeof msg, "kiln: out of memory (wanted %zu bytes); giving up\n", size);
    if (n > 0)
        (void)!write(STDERR_FILENO, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        kiln_oom(size);
    return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
    if (nmemb == 0 || size == 0)
        nmemb = size = 1;
    void *p = calloc(nmemb, size);
    if (p == NULL)
        kiln_oom(nmemb * size);
    return p;
}

void *xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        kiln_oom(size);
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        kiln_oom(0);
    return s;
}
