#pragma once

#include <cerrno>

#include <sys/socket.h>
#include <sys/types.h>

namespace marquee::core {

/// Whether the peer of an idle, kept-open connection is still there, asked before reusing it: a non-blocking
/// peek, no round trip. False when the peer closed it (an idle timeout, a restart) or sent bytes nobody asked
/// for (the stream is out of step): either way the connection must not carry another call.
inline bool peer_still_there(int native_socket) {
    char byte = 0;
    const ssize_t peeked = ::recv(native_socket, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (peeked < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    return false;
}

}  // namespace marquee::core
