/* kiln: allocation that cannot fail.
 *
 * kiln cannot continue sensibly without memory, so these abort with a message
 * instead of returning NULL. Before aborting they call the hook set with
 * kiln_set_oom_hook(), so the console can restore the terminal first (htop's
 * xMalloc calls CRT_done for the same reason).
 */
#ifndef KILN_XALLOC_H
#define KILN_XALLOC_H

#include <stddef.h>

/* Each returns memory the caller frees with free(). */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reports that `size` bytes could not be had and aborts. For code that gets NULL
 * from a library allocating on its behalf (cJSON, ...). */
_Noreturn void kiln_oom(size_t size);

/* Called once, from the thread that ran out of memory, just before abort().
 * Set it at start-up, before any other thread exists. NULL removes it. */
void kiln_set_oom_hook(void (*hook)(void));

#endif
