"""Dropbear's server as a peer: password logins, commands and SFTP.

`dropbear_server` runs Dropbear in the foreground on 127.0.0.1, on a free
port, as root (it runs each session as the user who logs in), with a host
key made by dropbearkey in a folder of its own. It lets in the tests' account
(`ssh_login`) with its password; Dropbear 2022 reads keys from the user's
~/.ssh/authorized_keys only, which the tests leave alone. SFTP is OpenSSH's
sftp-server, which Dropbear starts (Debian links /usr/lib/sftp-server to it).
`daemon.values["host_key"]` is its public host key, for known_hosts.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from peers.daemons import Daemon, run_daemon
from peers.programs import require

HOST_KEY_TOOL = "dropbearkey"  # in the same package as dropbear


@pytest.fixture(scope="session")
def dropbear_server(ssh_login) -> Iterator[Daemon]:
    dropbear = require("dropbear")
    keytool = shutil.which(HOST_KEY_TOOL) or HOST_KEY_TOOL
    folder = Path(tempfile.mkdtemp(prefix="dropbear-"))
    key_file = folder / "host_key"
    subprocess.run(  # noqa: S603 (a peer program)
        [keytool, "-t", "ed25519", "-f", key_file],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    public = subprocess.run(  # noqa: S603
        [keytool, "-y", "-f", key_file],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    # "Public key portion is:", then "ssh-ed25519 AAAA... root@host".
    line = next(line for line in public.splitlines() if line.startswith("ssh-"))
    values = {"host_key": " ".join(line.split()[:2]), "user": ssh_login.user}

    def command(port: int) -> list:
        # -F foreground, -E log to stderr, -P its pid file here, not in
        # /var/run; -G the test account's group only (Dropbear has no
        # AllowUsers), -w no root; -j -k no port forwarding.
        return [
            dropbear, "-F", "-E", "-r", key_file, "-p", f"127.0.0.1:{port}",
            "-P", folder / "dropbear.pid", "-G", ssh_login.group,
            "-w", "-j", "-k",
        ]  # fmt: skip

    try:
        with run_daemon("dropbear", folder, command, values=values) as daemon:
            yield daemon
    finally:
        shutil.rmtree(folder, ignore_errors=True)
