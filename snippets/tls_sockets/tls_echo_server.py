"""A TLS echo server: each line a client sends comes back, encrypted.

Make the certificates once (the HTTPS page explains them), then start it:

    python3 make_local_ca.py --folder certs
    python3 tls_echo_server.py --cert certs/server.pem \\
        --key certs/server-key.pem

With --client-ca, it also asks each client for a certificate signed by
that CA, and refuses those without one (mutual TLS).
"""

import argparse
import logging
import re
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8794
BACKLOG = 1024  # connections the kernel completes before we accept them
FDS_IN_RESERVE = 16  # standard streams, the listening socket, spares
CLOSE_TIMEOUT = 1.0  # seconds to wait for a client to take our last words
# Limits, each in the table on this server's page. Options change them.
HANDSHAKE_TIME = 10.0  # seconds for the whole handshake
LINE_TIME = 60.0  # seconds for each line and its echo
MAX_LINE = 64 * 1024  # bytes in a line, newline included
MAX_CLIENTS = 100  # connections at once

# Threads share stdout: logging writes each line whole, print() may not.
log = logging.getLogger("tls_echo_server")


# --8<-- [start:limits]
@dataclass(frozen=True)
class Limits:
    """What one client may take from the server: the page's limits table."""

    handshake_timeout: float = HANDSHAKE_TIME
    line_timeout: float = LINE_TIME
    max_line: int = MAX_LINE
    max_clients: int = MAX_CLIENTS


# --8<-- [end:limits]
class LineTooLong(Exception):
    """The client sent more than max_line bytes without a newline."""


# --8<-- [start:context]
def server_context(
    cert_file: Path, key_file: Path, client_ca: Path | None = None
) -> ssl.SSLContext:
    """The server's side of TLS: its certificate, and whom it asks for one."""
    # PROTOCOL_TLS_SERVER: the newest TLS version both sides speak, never
    # below TLS 1.2, with the ciphers OpenSSL considers safe.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # The chain the server presents, and the key that proves it is its own.
    context.load_cert_chain(cert_file, key_file)
    if client_ca is not None:
        # Mutual TLS: no certificate signed by this CA, no connection.
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=client_ca)
    return context


# --8<-- [end:context]
def time_left(deadline: float) -> float:
    """Seconds until `deadline`; TimeoutError once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        # A timeout of 0 would make the socket non-blocking: say it here.
        raise TimeoutError("deadline passed")
    return left


# --8<-- [start:read_line]
def read_line(
    tls: ssl.SSLSocket, buffer: bytearray, limits: Limits, deadline: float
) -> bytes | None:
    """One line, by `deadline`; None if the client closed between lines."""
    while (end := buffer.find(b"\n")) < 0:
        if len(buffer) >= limits.max_line:
            raise LineTooLong(f"no newline in {limits.max_line} bytes")
        # Each recv() gets the time that is left, not a fresh timeout: a
        # client that sends a byte a second cannot stretch a line for ever.
        tls.settimeout(time_left(deadline))
        chunk = tls.recv(limits.max_line - len(buffer))
        if not chunk:
            if buffer:
                raise ConnectionError("closed in the middle of a line")
            return None
        buffer += chunk
    line = bytes(buffer[: end + 1])
    del buffer[: end + 1]
    return line


def echo_lines(tls: ssl.SSLSocket, limits: Limits) -> int:
    """Echo lines until the client is done; how many were echoed."""
    buffer = bytearray()  # what arrived after the last newline
    echoed = 0
    while True:
        # One deadline for the line and its echo: a client that stops
        # reading is dropped like one that stops writing.
        deadline = time.monotonic() + limits.line_timeout
        line = read_line(tls, buffer, limits, deadline)
        if line is None:
            return echoed
        # sendall() on an SSL socket: its timeout bounds the whole call.
        tls.settimeout(time_left(deadline))
        tls.sendall(line)
        echoed += 1


# --8<-- [end:read_line]
# --8<-- [start:hang_up]
def hang_up(tls: ssl.SSLSocket, last_words: bytes = b"") -> None:
    """Close so that our last words (an alert, an error) reach the client.

    Closing a socket that still holds unread bytes sends a TCP reset, and a
    reset can destroy what we sent just before: the client would read
    "connection reset" instead of why. So say we are done (FIN), read and
    drop what the client still sends until it closes, then close.
    """
    deadline = time.monotonic() + CLOSE_TIMEOUT
    try:
        tls.settimeout(CLOSE_TIMEOUT)
        tls.sendall(last_words)
        tls.shutdown(socket.SHUT_WR)  # TLS is over: plain bytes from here
        while True:
            tls.settimeout(time_left(deadline))
            if not tls.recv(64 * 1024):
                break
    except OSError:  # a reset, a timeout: it had its chance
        pass


# --8<-- [end:hang_up]
SOURCE_LINE = re.compile(r" \(_ssl\.c:\d+\)$")


def openssl_says(error: ssl.SSLError) -> str:
    """OpenSSL's message, without the line of Python's C source after it."""
    return SOURCE_LINE.sub("", str(error))


def who(tls: ssl.SSLSocket) -> str:
    """The client's name from its certificate, if the server asked for one."""
    certificate = tls.getpeercert()
    if not certificate:
        return "no client certificate"
    fields = dict(field for rdn in certificate["subject"] for field in rdn)
    return f"client {fields.get('commonName', '(no common name)')}"


# --8<-- [start:serve_client]
def handshake(
    conn: socket.socket, context: ssl.SSLContext, timeout: float
) -> ssl.SSLSocket:
    """The server's side of the handshake, in `timeout` seconds at most."""
    # wrap_socket() takes the socket over; with do_handshake_on_connect
    # off, it does no I/O, and the handshake is ours to call.
    tls = context.wrap_socket(
        conn,
        server_side=True,
        do_handshake_on_connect=False,
    )
    try:
        # For an SSL socket, the timeout bounds the whole handshake, not
        # each read: a ClientHello sent a byte at a time still fails.
        tls.settimeout(timeout)
        tls.do_handshake()
    except ssl.SSLError:  # not TLS, or a certificate refused
        hang_up(tls)  # so that the client reads the alert we sent
        tls.close()
        raise
    except OSError:  # timed out, or reset
        tls.close()
        raise
    return tls


def serve_client(
    conn: socket.socket, peer: str, context: ssl.SSLContext, limits: Limits
) -> str:
    """Handshake, then echo; return how the connection ended, in words."""
    # This runs in the client's own thread: in the accept loop, a client
    # that never finishes its handshake would stop everyone else's.
    try:
        tls = handshake(conn, context, limits.handshake_timeout)
    except ssl.SSLError as error:
        return f"handshake failed: {openssl_says(error)}"
    except TimeoutError:
        return f"no handshake in {limits.handshake_timeout} s"
    except OSError as error:
        return f"left during the handshake: {error}"
    with tls:
        log.info("%s: %s, %s", peer, tls.version(), who(tls))
        try:
            echoed = echo_lines(tls, limits)
        except LineTooLong as error:
            hang_up(tls, b"error: line too long\n")
            return f"refused: {error}"
        except TimeoutError:
            return f"line not done in {limits.line_timeout} s"
        except OSError as error:  # reset, closed mid-line, TLS alert
            return f"went away: {error}"
    return f"lines echoed: {echoed}"


# --8<-- [end:serve_client]
def client_capacity(wanted: int) -> int:
    """How many clients this process has file descriptors for."""
    try:
        import resource  # Unix only
    except ImportError:  # pragma: no cover (Windows)
        return wanted
    available, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    # One descriptor per client, and one more for accept() to refuse with.
    return max(1, min(wanted, available - FDS_IN_RESERVE))


def shown(host: str, port: int) -> str:
    """host:port, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --8<-- [start:serve]
def serve(
    listener: socket.socket,
    context: ssl.SSLContext,
    limits: Limits,
) -> None:
    """Accept for ever; each client gets a thread, up to the cap."""
    capacity = client_capacity(limits.max_clients)
    log.info("At most %d clients at once", capacity)
    slots = threading.BoundedSemaphore(capacity)

    def in_a_slot(conn: socket.socket, peer: str) -> None:
        try:
            ending = serve_client(conn, peer, context, limits)
        finally:
            slots.release()
        log.info("%s: %s", peer, ending)  # the slot is free again

    while True:
        conn, address = listener.accept()
        peer = shown(*address[:2])
        if not slots.acquire(blocking=False):
            # Refused at once: the client learns now, instead of waiting
            # in a queue behind clients that may never speak.
            conn.close()
            log.info("%s: refused, %d clients already", peer, capacity)
            continue
        # daemon: Ctrl+C stops the server without waiting for clients.
        thread = threading.Thread(
            target=in_a_slot,
            args=(conn, peer),
            daemon=True,
        )
        thread.start()


# --8<-- [end:serve]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST, help="e.g. ::1 for IPv6")
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--client-ca", type=Path, help="ask for client certs")
    group = parser.add_argument_group("limits")
    group.add_argument(
        "--handshake-timeout",
        type=float,
        default=HANDSHAKE_TIME,
    )
    group.add_argument("--line-timeout", type=float, default=LINE_TIME)
    group.add_argument("--max-line", type=int, default=MAX_LINE)
    group.add_argument("--max-clients", type=int, default=MAX_CLIENTS)
    args = parser.parse_args()
    limits = Limits(
        args.handshake_timeout,
        args.line_timeout,
        args.max_line,
        args.max_clients,
    )
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.INFO,
        format="%(message)s",
    )

    context = server_context(args.cert, args.key, args.client_ca)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    address = (args.host, args.port)
    listener = socket.create_server(address, family=family, backlog=BACKLOG)
    with listener:
        try:
            log.info("Listening on %s", shown(*listener.getsockname()[:2]))
            serve(listener, context, limits)
        except KeyboardInterrupt:  # Ctrl+C, even while it starts
            log.info("Server stopped")


if __name__ == "__main__":
    main()
