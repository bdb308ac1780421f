/* kiln: errors a user can act on.
 *
 * Functions that can fail return 0 on success and -1 on failure, and fill a
 * struct kiln_err with a code and one human sentence: what failed, on what, and
 * what to do about it. A NULL err is allowed everywhere and means "don't tell me".
 */
#ifndef KILN_ERR_H
#define KILN_ERR_H

#include <stdarg.h>

enum kiln_errcode {
    KILN_OK = 0,
    KILN_E_FAILED,    /* the operation ran and failed */
    KILN_E_USAGE,     /* bad command line or arguments */
    KILN_E_INVALID,   /* bad input: a name, a file's contents, a message */
    KILN_E_NOTFOUND,  /* the thing named does not exist */
    KILN_E_EXISTS,    /* it already exists */
    KILN_E_IO,        /* the system refused: disk full, permission, ... */
    KILN_E_BUSY,      /* someone else holds the lock */
    KILN_E_TIMEOUT,   /* it did not finish in time */
    KILN_E_CANCELLED, /* the user asked to stop */
    KILN_E_NOMEM,     /* out of memory */
    KILN_E_READONLY,  /* refused because kiln runs read-only */
};

#define KILN_ERR_MSG_MAX 1024

struct kiln_err {
    enum kiln_errcode code;
    char msg[KILN_ERR_MSG_MAX];
};

/* Sets code and message (printf-style); returns -1 so callers can write
 * `return kiln_err_set(err, ...)`. */
int kiln_err_set(struct kiln_err *err, enum kiln_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int kiln_err_setv(struct kiln_err *err, enum kiln_errcode code, const char *fmt, va_list ap);

/* Like kiln_err_set, with ": <strerror(errnum)>" appended; picks KILN_E_IO. */
int kiln_err_sys(struct kiln_err *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Puts "<context>: " in front of the current message, keeping the code. */
void kiln_err_prefix(struct kiln_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void kiln_err_clear(struct kiln_err *err);

/* The process exit status for an error code: 2 for usage errors, 1 otherwise. */
int kiln_err_exit_status(enum kiln_errcode code);

const char *kiln_errcode_name(enum kiln_errcode code);

#endif
