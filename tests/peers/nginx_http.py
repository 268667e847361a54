"""nginx as the other server of the HTTP chapter's clients.

`nginx_http` serves what tests/peers/templates/nginx-http.conf says: JSON,
error statuses as HTML pages, JSON of another shape, a bearer-token location,
a stalling body, files (with Range, which nginx answers natively), over HTTP
and HTTPS, on 127.0.0.1 and ::1; and a second HTTPS port that sends the CA's
certificate in its chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from peers.daemons import Daemon, free_port, render, run_daemon
from peers.programs import require

TEMPLATES = Path(__file__).resolve().parent / "templates"
TOKEN = "s3cret-token"  # noqa: S105 (a test token) what /private wants as "Authorization: Bearer ..."


@pytest.fixture(scope="session")
def nginx_http(tmp_path_factory, local_certificates) -> Iterator[Daemon]:
    """nginx for the HTTP clients; its folder of files is values["root"]."""
    nginx = require("nginx")
    folder = tmp_path_factory.mktemp("nginx-http")
    root = folder / "www"
    root.mkdir()
    chain_file = folder / "chain-with-ca.pem"
    chain_file.write_bytes(
        local_certificates.cert_file.read_bytes()
        + local_certificates.ca_file.read_bytes()
    )
    values = {}

    def command(port: int) -> list:
        values.update(
            port=str(port), tls_port=str(free_port()), chain_port=str(free_port()),
            folder=str(folder), root=str(root), token=TOKEN,
            cert_file=str(local_certificates.cert_file),
            key_file=str(local_certificates.key_file), chain_file=str(chain_file),
        )  # fmt: skip
        config = render(TEMPLATES / "nginx-http.conf", folder / "nginx.conf", **values)
        return [nginx, "-p", folder, "-c", config, "-e", "stderr"]

    with run_daemon("nginx", folder, command, values=values) as daemon:
        yield daemon
