"""nginx as a JSON API of its own: a server of another shape for HTTP clients.

`nginx_api` answers GET /echo?n=N with {"args": {"n": "N"}}, as the site's
API server does, and everything else as nginx does: HTML error pages, a 405
for POST. HTTP and HTTPS (a certificate from the local CA), on 127.0.0.1 and
::1; and on `values["closing_port"]`, a server that closes every connection
without an answer.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from peers.daemons import Daemon, free_port, render, run_daemon
from peers.nginx import TEMPLATES
from peers.programs import require


@pytest.fixture(scope="session")
def nginx_api(tmp_path_factory, local_certificates) -> Iterator[Daemon]:
    nginx = require("nginx")
    folder = tmp_path_factory.mktemp("nginx-api")
    values = {}

    def command(port: int) -> list:
        values.update(
            port=str(port), tls_port=str(free_port()), folder=str(folder),
            closing_port=str(free_port()),
            cert_file=str(local_certificates.cert_file),
            key_file=str(local_certificates.key_file),
        )  # fmt: skip
        template = TEMPLATES / "nginx-json-api.conf"
        config = render(template, folder / "nginx.conf", **values)
        return [nginx, "-p", folder, "-c", config, "-e", "stderr"]

    with run_daemon("nginx", folder, command, values=values) as daemon:
        yield daemon
