"""OpenSSL's own TLS server as a peer: `openssl s_server`.

`openssl_s_server` is a factory: `with openssl_s_server(tmp_path, "-cert",
cert, "-key", key, "-rev") as daemon:` runs `openssl s_server` with those
options on a free loopback port (daemon.host, daemon.port) until the block
ends. With `-rev` it sends each line back reversed: an echo server of sorts.
It goes on serving after a failed handshake (the readiness probe is one).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from peers.daemons import Daemon, run_daemon
from peers.programs import require


@pytest.fixture(scope="session")
def openssl_s_server():
    openssl = require("openssl")

    @contextmanager
    def run(folder: Path, *options: str | Path) -> Iterator[Daemon]:
        def command(port: int) -> list:
            # -quiet: no session report on stdout, which nobody reads here.
            return [openssl, "s_server", "-accept", f"127.0.0.1:{port}",
                    "-quiet", *options]  # fmt: skip

        with run_daemon("openssl s_server", folder, command) as daemon:
            yield daemon

    return run
