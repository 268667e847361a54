"""Each certificate error a reader meets, made on purpose, seen from both ends.

    python3 -m pip install "trustme==1.2.1"
    python3 certificate_errors.py

Each case is one TLS handshake between a client and a server in this
process, with one thing wrong: it prints what each side's ssl module says.
"""

import datetime
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import trustme

TIMEOUT = 5.0  # seconds for each handshake and read
WORDS = re.compile(r"^\[\w+: \w+\] | \(_ssl\.c:\d+\)$")


# --8<-- [start:sides]
def words(error: ssl.SSLError) -> str:
    """What OpenSSL says, without the codes around it."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return error.verify_message  # the reason the chain was refused
    # str(error) is "[SSL: REASON] words (_ssl.c:LINE)": keep the words.
    return WORDS.sub("", str(error))


def server_sees(context: ssl.SSLContext, sock: socket.socket) -> str:
    """The server's side: handshake, then a greeting, then close."""
    sock.settimeout(TIMEOUT)
    try:
        with context.wrap_socket(sock, server_side=True) as tls:
            rdns = (tls.getpeercert() or {}).get("subject", ())
            subject = dict(field for rdn in rdns for field in rdn)
            tls.sendall(b"hello\n")
            return f"accepted client {subject.get('commonName', '-')}"
    except ssl.SSLError as error:
        return words(error)


def client_sees(
    context: ssl.SSLContext,
    sock: socket.socket,
    server_name: str,
) -> str:
    """The client's side: handshake, then read the server's greeting."""
    sock.settimeout(TIMEOUT)
    try:
        with context.wrap_socket(sock, server_hostname=server_name) as tls:
            # With TLS 1.3 the client's handshake is over before the server
            # has checked the client's certificate: a refusal arrives here.
            tls.recv(1024)
            return f"connected with {tls.version()}"
    except ssl.SSLError as error:
        return words(error)


# --8<-- [end:sides]
@dataclass
class Case:
    title: str
    server: ssl.SSLContext
    client: ssl.SSLContext
    server_name: str = "localhost"  # the name the client checks


def server_context(
    chain: trustme.Blob, key: trustme.Blob, clients_from: trustme.CA | None
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with chain.tempfile() as chain_file, key.tempfile() as key_file:
        context.load_cert_chain(chain_file, key_file)
    if clients_from is not None:  # mutual TLS
        context.verify_mode = ssl.CERT_REQUIRED
        clients_from.configure_trust(context)
    return context


def client_context(
    trusted: trustme.CA, presents: trustme.LeafCert | None = None
) -> ssl.SSLContext:
    # cadata: this CA only, not the system's too.
    pem = trusted.cert_pem.bytes().decode()
    context = ssl.create_default_context(cadata=pem)
    if presents is not None:
        presents.configure_cert(context)
    return context


# --8<-- [start:cases]
def cases() -> Iterator[Case]:
    ca, other_ca = trustme.CA(), trustme.CA()
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)

    def server(leaf, clients_from=None, with_ca=False) -> ssl.SSLContext:
        chain = b"".join(pem.bytes() for pem in leaf.cert_chain_pems)
        if with_ca:  # the CA's certificate too, as many servers send it
            chain += ca.cert_pem.bytes()
        key = leaf.private_key_pem
        return server_context(trustme.Blob(chain), key, clients_from)

    good = ca.issue_cert("localhost")
    ada = ca.issue_cert(common_name="ada")
    yield Case(
        "All right (mutual TLS)",
        server(good, ca),
        client_context(ca, ada),
    )
    yield Case("Unknown CA", server(good), client_context(other_ca))
    yield Case(
        "Unknown CA, sent in the chain",
        server(good, with_ca=True),
        client_context(other_ca),
    )
    lone = trustme.CA()  # a certificate that signed itself
    yield Case(
        "Self-signed certificate",
        server_context(lone.cert_pem, lone.private_key_pem, None),
        client_context(ca),
    )
    elsewhere = ca.issue_cert("example.org")  # valid, for another name
    yield Case("Wrong host name", server(elsewhere), client_context(ca))
    yield Case("Wrong IP address", server(good), client_context(ca), "::1")
    expired = ca.issue_cert(
        "localhost",
        not_before=now - 30 * day,
        not_after=now - day,
    )
    yield Case("Expired", server(expired), client_context(ca))
    early = ca.issue_cert(
        "localhost",
        not_before=now + day,
        not_after=now + 30 * day,
    )
    yield Case("Not yet valid", server(early), client_context(ca))
    yield Case("No client certificate", server(good, ca), client_context(ca))
    eve = other_ca.issue_cert(common_name="eve")
    yield Case(
        "Client certificate from another CA",
        server(good, ca),
        client_context(ca, eve),
    )


# --8<-- [end:cases]
def handshake(case: Case) -> tuple[str, str]:
    """Run both sides of one case over a socket pair; what each saw."""
    seen = {}
    with ExitStack() as stack:
        client_end, server_end = map(stack.enter_context, socket.socketpair())

        def serve() -> None:
            seen["server"] = server_sees(case.server, server_end)

        thread = threading.Thread(target=serve)
        thread.start()
        seen["client"] = client_sees(case.client, client_end, case.server_name)
        thread.join()
    return seen["client"], seen["server"]


# --8<-- [start:main]
def report() -> Iterator[str]:
    """Three lines per case: its title, what the client and the server saw."""
    for case in cases():
        client, server = handshake(case)
        yield from (f"{case.title}:", f"client: {client}", f"server: {server}")


def main() -> None:
    for line in report():
        print(line)
        #> All right (mutual TLS):
        #> client: connected with TLSv1.3
        #> server: accepted client ada
        #> Unknown CA:
        #> client: unable to get local issuer certificate
        #> server: tlsv1 alert unknown ca
        #> Unknown CA, sent in the chain:
        #> client: self-signed certificate in certificate chain
        #> server: tlsv1 alert unknown ca
        #> Self-signed certificate:
        #> client: self-signed certificate
        #> server: tlsv1 alert unknown ca
        #> Wrong host name:
        #> client: Hostname mismatch, certificate is not valid for 'localhost'.
        #> server: sslv3 alert bad certificate
        #> Wrong IP address:
        #> client: IP address mismatch, certificate is not valid for '::1'.
        #> server: sslv3 alert bad certificate
        #> Expired:
        #> client: certificate has expired
        #> server: sslv3 alert certificate expired
        #> Not yet valid:
        #> client: certificate is not yet valid
        #> server: sslv3 alert bad certificate
        #> No client certificate:
        #> client: tlsv13 alert certificate required
        #> server: peer did not return a certificate
        #> Client certificate from another CA:
        #> client: tlsv1 alert unknown ca
        #> server: unable to get local issuer certificate


# --8<-- [end:main]

if __name__ == "__main__":
    main()
