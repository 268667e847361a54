"""nginx with snippets/http_examples/nginx_requests.conf: logins, cookies,
redirects; and tinyproxy with snippets/http_examples/tinyproxy.conf.

The configurations are the ones the page shows, rendered on free ports: the
reader runs the same files. nginx gets a password file made with
`openssl passwd -6`, as the page tells the reader, and the certificates of
the local CA; tinyproxy may open CONNECT tunnels to nginx's HTTPS port only.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from peers.daemons import Daemon, free_port, run_client, run_daemon
from peers.programs import require

SNIPPETS = Path(__file__).resolve().parents[2] / "snippets" / "http_examples"
USER, PASSWORD = "ada", "lovelace"
TOKEN = "demo-token-for-ada"  # noqa: S105 (the token nginx_requests.conf accepts)


def rendered(source: Path, replacements: dict[str, str]) -> str:
    """The page's configuration with its ports replaced (each must be there)."""
    text = source.read_text(encoding="utf-8")
    for pattern, replacement in replacements.items():
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        assert count, f"{pattern!r} is no longer in {source.name}"
    return text


def password_file(folder: Path) -> None:
    """users.htpasswd, as `echo "ada:$(openssl passwd -6)"` writes it."""
    result = run_client(
        [require("openssl"), "passwd", "-6", "-stdin"], input=PASSWORD + "\n"
    )
    assert result.returncode == 0, result.stderr
    (folder / "users.htpasswd").write_text(f"{USER}:{result.stdout}")


@pytest.fixture(scope="session")
def nginx_requests(tmp_path_factory, local_certificates) -> Iterator[Daemon]:
    """nginx_requests.conf's server: values["port"] (HTTP), ["tls_port"]."""
    nginx = require("nginx")
    folder = tmp_path_factory.mktemp("nginx-requests")
    (folder / "certs").mkdir()
    (folder / "temp").mkdir()
    shutil.copy(local_certificates.cert_file, folder / "certs" / "server.pem")
    shutil.copy(local_certificates.key_file, folder / "certs" / "server-key.pem")
    password_file(folder)
    values = {}

    def command(port: int) -> list:
        values.update(port=str(port), tls_port=str(free_port()))
        config = rendered(
            SNIPPETS / "nginx_requests.conf",
            {r":8082;": f":{port};", r":8444 ssl;": f":{values['tls_port']} ssl;"},
        )
        (folder / "nginx.conf").write_text(config, encoding="utf-8")
        return [nginx, "-p", folder, "-c", folder / "nginx.conf", "-e", "stderr"]

    with run_daemon("nginx", folder, command, values=values) as daemon:
        yield daemon


@pytest.fixture(scope="session")
def tinyproxy(tmp_path_factory, nginx_requests) -> Iterator[Daemon]:
    """tinyproxy.conf's proxy, its CONNECT tunnels to nginx_requests' HTTPS."""
    program = require("tinyproxy")
    folder = tmp_path_factory.mktemp("tinyproxy")
    tls_port = nginx_requests.values["tls_port"]

    def command(port: int) -> list:
        config = rendered(
            SNIPPETS / "tinyproxy.conf",
            {
                r"^Port 8888$": f"Port {port}",
                r"^ConnectPort 8444$": f"ConnectPort {tls_port}",
            },
        )
        (folder / "tinyproxy.conf").write_text(config, encoding="utf-8")
        return [program, "-d", "-c", folder / "tinyproxy.conf"]

    with run_daemon("tinyproxy", folder, command) as daemon:
        yield daemon
