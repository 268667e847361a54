"""Certificate errors, each made on purpose on loopback, with its message.

    python3 -m pip install "trustme==1.2.1"
    python3 tls_messages.py

The program makes its own certificate authorities (with trustme) and a
TLS server in a thread for each case; the client verifies, always.
"""

import asyncio
import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import requests
import trustme
from message_text import last_line

LOOPBACK = ("127.0.0.1", 0)  # port 0: the system picks a free port
TIMEOUT = 5.0  # seconds for each connection and handshake


@contextmanager
def tls_server(chain: bytes, key: trustme.Blob) -> Iterator[int]:
    """A server for one connection: its handshake, whatever the outcome."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    chain_blob = trustme.Blob(chain)
    with chain_blob.tempfile() as chain_file, key.tempfile() as key_file:
        context.load_cert_chain(chain_file, key_file)
    listener = socket.create_server(LOOPBACK)

    def serve_one() -> None:
        connection, _ = listener.accept()
        connection.settimeout(TIMEOUT)
        try:
            context.wrap_socket(connection, server_side=True).close()
        except OSError:  # the client refused the certificate: expected
            connection.close()

    thread = threading.Thread(target=serve_one)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join()
        listener.close()


def chain_of(leaf: trustme.LeafCert, *extra: trustme.CA) -> bytes:
    """The certificates a server sends: its own, and any it adds."""
    pems = [pem.bytes() for pem in leaf.cert_chain_pems]
    return b"".join(pems + [ca.cert_pem.bytes() for ca in extra])


# --8<-- [start:verify]
def handshake(port: int, trusted: trustme.CA, name: str) -> Iterator[str]:
    """Connect to 127.0.0.1, trusting only `trusted`, and verify `name`."""
    pem = trusted.cert_pem.bytes().decode()
    context = ssl.create_default_context(cadata=pem)  # this CA, no other
    with socket.create_connection(("127.0.0.1", port), TIMEOUT) as sock:
        try:
            with context.wrap_socket(sock, server_hostname=name):
                yield "connected"  # pragma: no cover (never, on this page)
        except ssl.SSLError as error:
            yield last_line(error)


# --8<-- [end:verify]
# --8<-- [start:cases]
def certificate_errors() -> Iterator[str]:
    ca, other_ca = trustme.CA(), trustme.CA()
    good = ca.issue_cert("127.0.0.1", "::1")  # no name: addresses only
    now = datetime.datetime.now(datetime.timezone.utc)
    expired = ca.issue_cert(
        "127.0.0.1",
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
    )
    lone = trustme.CA()  # its certificate signed itself

    cases = [  # (what the server sends, its key, whom the client trusts)
        (chain_of(good), good.private_key_pem, other_ca),  # unknown CA
        (chain_of(good, ca), good.private_key_pem, other_ca),  # CA sent too
        (lone.cert_pem.bytes(), lone.private_key_pem, ca),  # self-signed
        (chain_of(expired), expired.private_key_pem, ca),
    ]
    for chain, key, trusted in cases:
        with tls_server(chain, key) as port:
            yield from handshake(port, trusted, "127.0.0.1")
    # A good certificate, for another name than the one the client uses.
    with tls_server(chain_of(good), good.private_key_pem) as port:
        yield from handshake(port, ca, "localhost")


# --8<-- [end:cases]
# --8<-- [start:libraries]
def through_libraries() -> Iterator[str]:
    """What requests and aiohttp say when a certificate is not trusted."""
    ca = trustme.CA()  # a CA that neither library has heard of
    good = ca.issue_cert("127.0.0.1")
    with tls_server(chain_of(good), good.private_key_pem) as port:
        try:
            requests.get(f"https://127.0.0.1:{port}/", timeout=TIMEOUT)
        except requests.exceptions.SSLError as error:
            yield last_line(error)
    with tls_server(chain_of(good), good.private_key_pem) as port:
        try:
            asyncio.run(aiohttp_get(f"https://127.0.0.1:{port}/"))
        except aiohttp.ClientConnectorCertificateError as error:
            yield last_line(error)


async def aiohttp_get(url: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(url):
        pass  # pragma: no cover (the handshake fails first)


# --8<-- [end:libraries]
# --8<-- [start:not_tls]
def tls_to_a_plain_server() -> Iterator[str]:
    # A server that speaks first, in plain text, as SMTP and FTP servers
    # do: the client reads its greeting as the start of a TLS record.
    with socket.create_server(LOOPBACK) as listener:
        address = listener.getsockname()
        with socket.create_connection(address, TIMEOUT) as sock:
            server_side, _ = listener.accept()
            with server_side:
                server_side.sendall(b"220 localhost ESMTP ready\r\n")
                context = ssl.create_default_context()
                try:
                    context.wrap_socket(sock, server_hostname="localhost")
                except ssl.SSLError as error:
                    yield last_line(error)


# --8<-- [end:not_tls]
def main() -> None:
    scenarios = (certificate_errors, through_libraries, tls_to_a_plain_server)
    for scenario in scenarios:
        for message in scenario():
            print(message)


if __name__ == "__main__":
    main()
