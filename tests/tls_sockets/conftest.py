"""Fixtures of the TLS chapter: the echo server with small limits (its log
followed as it runs), on IPv6, with mutual TLS; and client certificates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .tls_helpers import (
    SERVER,
    SMALL_LIMITS,
    LiveServer,
    certificate_arguments,
    load_snippet,
    running,
)


@pytest.fixture(scope="session")
def live_server():
    """`with live_server(path, *args) as server:` a server whose log a test reads."""
    return running


@pytest.fixture(scope="session")
def tls_server(live_server, local_certificates) -> Iterator[LiveServer]:
    """One echo server per test process, with small limits."""
    arguments = certificate_arguments(local_certificates) + SMALL_LIMITS
    with live_server(SERVER, *arguments) as server:
        yield server


MAKER = "tls_sockets/make_client_certificate.py"


@dataclass
class ClientCertificates:
    """The clients' CA and ada's certificate, as make_client_certificate.py
    writes them; and a stranger's, from a CA the server does not trust."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    stranger_cert_file: Path
    stranger_key_file: Path


@pytest.fixture(scope="session")
def client_certificates(tmp_path_factory) -> ClientCertificates:
    make = load_snippet(MAKER).make_client_certificate
    ca_file, cert_file, key_file = make(tmp_path_factory.mktemp("certs"), "ada")
    _, stranger_cert, stranger_key = make(tmp_path_factory.mktemp("eve"), "eve")
    return ClientCertificates(ca_file, cert_file, key_file, stranger_cert, stranger_key)


@pytest.fixture(scope="session")
def mtls_server(
    live_server, local_certificates, client_certificates
) -> Iterator[LiveServer]:
    """The echo server asking each client for a certificate (mutual TLS)."""
    arguments = [
        *certificate_arguments(local_certificates), *SMALL_LIMITS,
        "--client-ca", str(client_certificates.ca_file),
    ]  # fmt: skip
    with live_server(SERVER, *arguments) as server:
        yield server


@pytest.fixture(scope="session")
def tls_server_ipv6(live_server, local_certificates) -> Iterator[LiveServer]:
    """The echo server on ::1, with its default limits."""
    arguments = [*certificate_arguments(local_certificates), "--host", "::1"]
    with live_server(SERVER, *arguments) as server:
        yield server
