"""OpenSSH's sshd as a peer: password and key logins, commands and SFTP.

`openssh_sshd` runs sshd on 127.0.0.1 and ::1, on a free port, as root (sshd
must be started as root, with its absolute path), with a configuration
rendered from templates/sshd_config into a folder of its own. It lets in one
account, the tests' own (`ssh_login`, tests/peers/system_user.py), with its
password or with a key that a test writes to `daemon.values["authorized_keys"]`;
`daemon.values["host_key"]` is its public host key, for a known_hosts file.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from peers.daemons import Daemon, render, run_daemon
from peers.programs import require

TEMPLATES = Path(__file__).resolve().parent / "templates"
PRIVILEGE_SEPARATION = Path("/run/sshd")  # sshd refuses to start without it


def public_host_key(folder: Path) -> str:
    """A new Ed25519 host key in `folder`/host_key; its public line."""
    keygen = require("ssh-keygen")
    subprocess.run(  # noqa: S603 (a peer program)
        [keygen, "-q", "-t", "ed25519", "-N", "", "-f", folder / "host_key"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return (folder / "host_key.pub").read_text().strip()


@pytest.fixture(scope="session")
def openssh_sshd(ssh_login) -> Iterator[Daemon]:
    """sshd for the session; `daemon.values` has host_key and authorized_keys."""
    sshd = require("sshd")
    # Not under pytest's temporary folder, which only root may enter: sshd
    # reads authorized_keys as the user who logs in.
    folder = Path(tempfile.mkdtemp(prefix="sshd-"))
    folder.chmod(0o755)
    PRIVILEGE_SEPARATION.mkdir(mode=0o755, exist_ok=True)
    values = {
        "host_key": public_host_key(folder),
        "authorized_keys": str(folder / "authorized_keys"),
        "user": ssh_login.user,
    }
    Path(values["authorized_keys"]).touch(mode=0o644)

    def command(port: int) -> list:
        values["port"] = str(port)
        template = TEMPLATES / "sshd_config"
        config = render(template, folder / "sshd_config", folder=folder, **values)
        return [sshd, "-D", "-e", "-f", config]

    try:
        with run_daemon("sshd", folder, command, values=values) as daemon:
            yield daemon
    finally:
        shutil.rmtree(folder, ignore_errors=True)
