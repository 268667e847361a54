"""What UDP does at its limits, measured on loopback: truncation, size, loss.

python udp_limits.py
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
    data, _ = receiver.recvfrom(1024)  # a buffer smaller than the datagram
    print(f"recvfrom(1024) returned {len(data)} of 2000 bytes")
    #> recvfrom(1024) returned 1024 of 2000 bytes

    # The other 976 bytes are gone: the next call returns the next datagram.
    sender.sendto(b"next", address)
    print(receiver.recvfrom(1024)[0])
    #> b'next'

    # recvmsg() says so (POSIX only): MSG_TRUNC is set in the flags it returns.
    sender.sendto(b"x" * 2000, address)
    data, _ancillary, flags, _ = receiver.recvmsg(1024)
    print(len(data), bool(flags & socket.MSG_TRUNC))
    #> 1024 True


# --8<-- [end:truncation]
# --8<-- [start:too_big]
def show_size_limit(sender: socket.socket, receiver: socket.socket) -> None:
    # 65,535 bytes of IPv4 packet, less 20 (IP header) and 8 (UDP header).
    sender.sendto(b"x" * 65_507, receiver.getsockname())
    print(len(receiver.recv(65_535)))
    #> 65507
    try:
        sender.sendto(b"x" * 65_508, receiver.getsockname())
    except OSError as error:
        print(type(error).__name__, errno.errorcode[error.errno], error.strerror)
        #> OSError EMSGSIZE Message too long


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
