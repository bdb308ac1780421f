/* kiln: writing to sockets (see include/kiln/sockio.h). */
#include "kiln/sockio.h"

#include <errno.h>
#include <sys/socket.h>

int kiln_send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
