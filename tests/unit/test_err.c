/* kiln: errors a user can act on. */
#include "kiln/err.h"
#include "tap.h"

#include <errno.h>

int main(void)
{
    struct kiln_err err = {0};

    is_int(kiln_err_set(&err, KILN_E_INVALID, "bad name '%s'", "x y"), -1,
           "kiln_err_set returns -1 for `return kiln_err_set(...)`");
    is_int(err.code, KILN_E_INVALID, "it keeps the code");
    is_str(err.msg, "bad name 'x y'", "it formats the message");

    kiln_err_prefix(&err, "create-app %s", "hello");
    is_str(err.msg, "create-app hello: bad name 'x y'", "kiln_err_prefix puts context in front");
    is_int(err.code, KILN_E_INVALID, "prefix keeps the code");

    kiln_err_sys(&err, ENOSPC, "cannot write %s", "/s/cloud.json");
    is_str(err.msg, "cannot write /s/cloud.json: No space left on device",
           "kiln_err_sys appends strerror");
    is_int(err.code, KILN_E_IO, "kiln_err_sys is an I/O error");

    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    kiln_err_set(&err, KILN_E_FAILED, "%s", big);
    is_int(strlen(err.msg), KILN_ERR_MSG_MAX - 1, "a long message is truncated, not overflowed");
    kiln_err_prefix(&err, "ctx");
    is_int(strlen(err.msg), KILN_ERR_MSG_MAX - 1, "prefixing a full message stays in bounds");

    is_int(kiln_err_set(NULL, KILN_E_FAILED, "x"), -1, "a NULL err is allowed");
    kiln_err_prefix(NULL, "x");
    kiln_err_clear(&err);
    is_int(err.code, KILN_OK, "clear resets the code");
    is_str(err.msg, "", "clear empties the message");

    is_int(kiln_err_exit_status(KILN_OK), 0, "exit 0 on success");
    is_int(kiln_err_exit_status(KILN_E_USAGE), 2, "exit 2 on usage errors");
    is_int(kiln_err_exit_status(KILN_E_BUSY), 1, "exit 1 when the operation failed");
    is_str(kiln_errcode_name(KILN_E_READONLY), "read-only", "codes have names");
    is_str(kiln_errcode_name((enum kiln_errcode)999), "unknown", "an unknown code is named so");
    return done_testing();
}
