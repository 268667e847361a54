"""Nagle's algorithm meets delayed ACKs: a request in two writes, timed.

    python3 nagle_delay.py

A client sends each request as two small writes (a header, then a body) and
reads the reply. The server answers only once it has the whole request. With
Nagle's algorithm on, the default, the body waits for the header's ACK, which
the server delays: every request pays that delay (40 ms on Linux).
TCP_NODELAY, or one write per request, removes it.
"""

import socket
import statistics
import threading
import time

HEADER = b"LEN 5\n"  # a small header...
BODY = b"hello"  # ...and a small body: together, one request
REPLY = b"ok"
REQUESTS = 5  # requests timed in each mode
TIMEOUT = 5.0  # seconds: even a demonstration never hangs


def receive_exactly(sock: socket.socket, size: int) -> bytes:
    """Read `size` bytes; b"" if the peer closed before the first one."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return data
        data += chunk
    return data


def answer_requests(listener: socket.socket) -> None:
    """The server: reply to each whole request, not before."""
    listener.settimeout(TIMEOUT)
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(TIMEOUT)
        while receive_exactly(conn, len(HEADER + BODY)):
            conn.sendall(REPLY)


# --8<-- [start:time_requests]
def time_requests(address, nodelay: bool, writes: int) -> float:
    """The median seconds per request, sent in one write or in two."""
    with socket.create_connection(address, timeout=TIMEOUT) as sock:
        if nodelay:  # send small segments at once, without waiting
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        times = []
        # One more request than timed: Linux ACKs at once at the start of
        # a connection ("quick ACK" mode), so the first one is fast anyway.
        for _ in range(REQUESTS + 1):
            started = time.perf_counter()
            if writes == 2:
                sock.sendall(HEADER)
                sock.sendall(BODY)  # Nagle: held until HEADER is ACKed
            else:
                sock.sendall(HEADER + BODY)
            receive_exactly(sock, len(REPLY))
            times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


# --8<-- [end:time_requests]
def magnitude(seconds: float) -> str:
    """An order of magnitude, which is what holds from machine to machine."""
    if seconds < 0.010:
        return "under 10 ms"
    if seconds < 0.100:
        return "10 to 100 ms"
    return "100 ms or more"


def main() -> None:
    cases = [
        ("two writes", False, 2),
        ("two writes, TCP_NODELAY", True, 2),
        ("one write", False, 1),
    ]
    # --8<-- [start:main]
    for label, nodelay, writes in cases:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            server = threading.Thread(target=answer_requests, args=[listener])
            server.start()
            address = listener.getsockname()
            median = time_requests(address, nodelay, writes)
            server.join()
        print(f"{label + ':':25} {magnitude(median)} a request")
        #> two writes:               10 to 100 ms a request
        #> two writes, TCP_NODELAY:  under 10 ms a request
        #> one write:                under 10 ms a request
    # --8<-- [end:main]


if __name__ == "__main__":
    main()
