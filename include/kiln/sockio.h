/* kiln: writing to sockets. kilnd's API (src/cloud/api.c) and its client
 * (src/provider/local/kilnd_client.c) speak one JSON message per line over a UNIX
 * socket; both ends write whole lines with this. */
#ifndef KILN_SOCKIO_H
#define KILN_SOCKIO_H

#include <stddef.h>

/* Sends all len bytes of buf on the socket fd, however many send() calls it takes,
 * retrying after EINTR. MSG_NOSIGNAL: a peer that hung up is -1 with EPIPE, not a
 * SIGPIPE that kills the process. Returns 0, or -1 with errno. */
int kiln_send_all(int fd, const void *buf, size_t len);

#endif
