"""What UDP does at its limits, on loopback: truncation, size, loss.

python3 udp_limits.py
"""

import errno
import socket

TIMEOUT = 5.0  # seconds: even a demonstration never hangs
LOOPBACK = ("127.0.0.1", 0)  # port 0: the system picks a free port


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(TIMEOUT)
    return sock


# --8<-- [start:truncation]
def show_truncation(sender: socket.socket, receiver: socket.socket) -> None:
    address = receiver.getsockname()
    sender.sendto(b"x" * 2000, address)
    try:
        data, _ = receiver.recvfrom(1024)  # a buffer smaller than the datagram
        print(f"recvfrom(1024) returned {len(data)} of 2000 bytes")
        #> recvfrom(1024) returned 1024 of 2000 bytes
    except OSError as error:  # pragma: no cover (Windows raises WSAEMSGSIZE)
        print(f"recvfrom(1024) raised {error}: the datagram is lost")

    # The other 976 bytes are gone: the next call returns the next datagram.
    sender.sendto(b"next", address)
    print(receiver.recvfrom(1024)[0])
    #> b'next'

    # recvmsg() says so: MSG_TRUNC is set in the flags it returns. Windows
    # has neither recvmsg() nor MSG_TRUNC.
    if not hasattr(receiver, "recvmsg"):  # pragma: no cover (Windows)
        return
    sender.sendto(b"x" * 2000, address)
    data, _ancillary, flags, _ = receiver.recvmsg(1024)
    print(len(data), bool(flags & socket.MSG_TRUNC))
    #> 1024 True


# --8<-- [end:truncation]
# --8<-- [start:too_big]
def show_size_limit(sender: socket.socket, receiver: socket.socket) -> None:
    # 65,535 bytes of IPv4 packet, less 20 (IP header) and 8 (UDP header).
    # macOS refuses less: 9,216 bytes by default (net.inet.udp.maxdgram).
    for size in (65_507, 65_508):
        try:
            sender.sendto(b"x" * size, receiver.getsockname())
        except OSError as error:
            name = errno.errorcode[error.errno]
            print(f"{size} bytes: {type(error).__name__} {name}")
            #> 65508 bytes: OSError EMSGSIZE
            continue
        print(f"{size} bytes: received {len(receiver.recv(65_535))}")
        #> 65507 bytes: received 65507


# --8<-- [end:too_big]
# --8<-- [start:loss]
def show_loss(sender: socket.socket, receiver: socket.socket) -> None:
    # A small receive buffer that nobody reads: the kernel drops what does not
    # fit, silently, even on loopback. Neither side gets an error.
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    for _ in range(100):
        sender.sendto(b"x" * 1000, receiver.getsockname())
    arrived = 0
    receiver.setblocking(False)  # read what is queued, then stop
    while True:
        try:
            receiver.recv(1000)
        except BlockingIOError:
            break
        arrived += 1
    print(f"Sent 100 datagrams; all arrived: {arrived == 100}")
    #> Sent 100 datagrams; all arrived: False


# --8<-- [end:loss]
def main() -> None:
    with udp_socket() as sender, udp_socket() as receiver:
        receiver.bind(LOOPBACK)
        show_truncation(sender, receiver)
        show_size_limit(sender, receiver)
        show_loss(sender, receiver)


if __name__ == "__main__":
    main()
