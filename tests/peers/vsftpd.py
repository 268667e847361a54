"""vsftpd as a peer: an FTP server that is not pyftpdlib, with explicit FTPS.

`vsftpd_server` (127.0.0.1) and `vsftpd_server_ipv6` (::1) serve anonymous
users over TLS only. `daemon.values` names what a test needs: `user` and
`password` (a login that works), `wrong_password` (refused with 530),
`incoming` (the folder uploads go to) and `readonly` (one they cannot), and
`anon_root` (the server's root, as a local path).

vsftpd has no version option that prints without a connection: its version
comes from the package (programs.version("vsftpd")).
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest

from peers.daemons import Daemon, render, run_daemon
from peers.programs import require

TEMPLATES = Path(__file__).resolve().parent / "templates"
FTP_USER = "ftp"  # vsftpd's default ftp_username; Debian's package creates it
WRONG_PASSWORD = "guess"  # noqa: S105 (the one password vsftpd refuses here)


def _ftp_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(FTP_USER)
    except KeyError:
        pytest.fail(
            f"vsftpd runs anonymous sessions as the user {FTP_USER!r}, which "
            "is missing: reinstall vsftpd (`apt-get install --reinstall vsftpd`)",
            pytrace=False,
        )


def _vsftpd(folder: Path, certificates, host: str) -> Iterator[Daemon]:
    vsftpd = require("vsftpd")
    ftp_user = _ftp_user()
    anon_root = folder / "anon"
    for path in (anon_root / "incoming", anon_root / "readonly", folder / "empty"):
        path.mkdir(parents=True)
    anon_root.chmod(0o755)  # readable by the session's user, not writable
    os.chown(anon_root / "incoming", ftp_user.pw_uid, ftp_user.pw_gid)
    (folder / "banned-passwords").write_text(WRONG_PASSWORD + "\n")
    # The certificate chain followed by the CA's own certificate.
    chain = folder / "cert-with-ca.pem"
    chain.write_bytes(
        certificates.cert_file.read_bytes() + certificates.ca_file.read_bytes()
    )
    if ":" in host:
        listen = f"listen=NO\nlisten_ipv6=YES\nlisten_address6={host}"
    else:
        listen = f"listen=YES\nlisten_ipv6=NO\nlisten_address={host}"
    values = {
        "user": "anonymous",
        "password": "reader@example.org",
        "wrong_password": WRONG_PASSWORD,
        "incoming": "incoming",
        "readonly": "readonly",
        "anon_root": str(anon_root),
    }

    def command(port: int) -> list:
        config = render(
            TEMPLATES / "vsftpd.conf", folder / "vsftpd.conf",
            listen=listen, port=port, folder=folder, anon_root=anon_root,
            cert_file=chain, key_file=certificates.key_file,
        )  # fmt: skip
        return [vsftpd, config]

    with run_daemon("vsftpd", folder, command, host=host, values=values) as daemon:
        yield daemon


@pytest.fixture(scope="session")
def vsftpd_server(tmp_path_factory, local_certificates) -> Iterator[Daemon]:
    folder = tmp_path_factory.mktemp("vsftpd")
    yield from _vsftpd(folder, local_certificates, "127.0.0.1")


@pytest.fixture(scope="session")
def vsftpd_server_ipv6(tmp_path_factory, local_certificates) -> Iterator[Daemon]:
    folder = tmp_path_factory.mktemp("vsftpd6")
    yield from _vsftpd(folder, local_certificates, "::1")
