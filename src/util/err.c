/* kiln: errors a user can act on (see include/kiln/err.h). */
#include "kiln/err.h"

#include <stdio.h>
#include <string.h>

int kiln_err_setv(struct kiln_err *err, enum kiln_errcode code, const char *fmt, va_list ap)
{
    if (err == NULL)
        return -1;
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return -1;
}

int kiln_err_set(struct kiln_err *err, enum kiln_errcode code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_err_setv(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

int kiln_err_sys(struct kiln_err *err, int errnum, const char *fmt, ...)
{
    if (err == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    kiln_err_setv(err, KILN_E_IO, fmt, ap);
    va_end(ap);
    size_t len = strlen(err->msg);
    if (len < sizeof err->msg)
        snprintf(err->msg + len, sizeof err->msg - len, ": %s", strerror(errnum));
    return -1;
}

void kiln_err_prefix(struct kiln_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    char prefix[KILN_ERR_MSG_MAX];
    char old[KILN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* A message that no longer fits is cut: the start (the context) matters most. */
    if (snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old) >= (int)sizeof err->msg)
        err->msg[sizeof err->msg - 1] = '\0';
}

void kiln_err_clear(struct kiln_err *err)
{
    if (err == NULL)
        return;
    err->code = KILN_OK;
    err->msg[0] = '\0';
}

int kiln_err_exit_status(enum kiln_errcode code)
{
    switch (code) {
    case KILN_OK:
        return 0;
    case KILN_E_USAGE:
        return 2;
    default:
        return 1;
    }
}

const char *kiln_errcode_name(enum kiln_errcode code)
{
    static const char *const names[] = {
        [KILN_OK] = "ok",
        [KILN_E_FAILED] = "failed",
        [KILN_E_USAGE] = "usage",
        [KILN_E_INVALID] = "invalid",
        [KILN_E_NOTFOUND] = "not-found",
        [KILN_E_EXISTS] = "exists",
        [KILN_E_IO] = "io",
        [KILN_E_BUSY] = "busy",
        [KILN_E_TIMEOUT] = "timeout",
        [KILN_E_CANCELLED] = "cancelled",
        [KILN_E_NOMEM] = "no-memory",
        [KILN_E_READONLY] = "read-only",
    };
    if ((unsigned)code < sizeof names / sizeof names[0] && names[code] != NULL)
        return names[code];
    return "unknown";
}
