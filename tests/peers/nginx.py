"""nginx as a peer: static files, JSON answers, HTTPS with the local CA.

`nginx_static` serves a folder that the test fills, on one port for HTTP and
one for HTTPS, on 127.0.0.1 and ::1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from peers.daemons import Daemon, free_port, render, run_daemon
from peers.programs import require

TEMPLATES = Path(__file__).resolve().parent / "templates"


@pytest.fixture(scope="session")
def nginx_static(tmp_path_factory, local_certificates) -> Iterator[Daemon]:
    """nginx serving `daemon.values["root"]` (empty at first) over HTTP and HTTPS."""
    nginx = require("nginx")
    folder = tmp_path_factory.mktemp("nginx")
    root = folder / "www"
    root.mkdir()
    values = {}

    def command(port: int) -> list:
        values.update(
            port=str(port), tls_port=str(free_port()), folder=str(folder),
            root=str(root), cert_file=str(local_certificates.cert_file),
            key_file=str(local_certificates.key_file),
        )  # fmt: skip
        template = TEMPLATES / "nginx-static.conf"
        config = render(template, folder / "nginx.conf", **values)
        return [nginx, "-p", folder, "-c", config, "-e", "stderr"]

    with run_daemon("nginx", folder, command, values=values) as daemon:
        yield daemon
