"""Exim as a peer: an MTA that is not aiosmtpd, with STARTTLS and AUTH.

`exim_server` listens on 127.0.0.1 and ::1 (one port), takes mail for
example.org from the user in `daemon.values` ("user", "password") once the
connection is encrypted, refuses to relay anywhere else ("Relay access
denied"), and queues what it accepts. `deliver(daemon)` runs the queue and
returns once every message is in the mailbox file, `daemon.values["mailbox"]`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from peers.daemons import Daemon, render, run_daemon
from peers.programs import require

TEMPLATES = Path(__file__).resolve().parent / "templates"
EXIM_USER = "Debian-exim"  # Debian's exim_user: Exim runs as it with -C
USER, PASSWORD = "ada", "correct horse battery staple"
QUEUE_RUN_TIMEOUT = 20.0


def _exim_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(EXIM_USER)
    except KeyError:
        pytest.fail(
            f"Exim runs as the user {EXIM_USER!r}, which is missing: "
            "`apt-get install --reinstall exim4-base`",
            pytrace=False,
        )


def _owned_folder(owner: pwd.struct_passwd) -> Path:
    """A folder Exim's user owns and can reach.

    pytest's temporary folders are private to root (mode 0700), so Exim,
    once it has given up root, could not even open them: this one is made
    directly in the system's temporary folder.
    """
    folder = Path(tempfile.mkdtemp(prefix="exim-peer-"))
    folder.chmod(0o755)
    for name in ("spool", "log"):
        (folder / name).mkdir()
    for path in (folder, folder / "spool", folder / "log"):
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return folder


def _copy_for(owner: pwd.struct_passwd, source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    target.chmod(0o600)
    os.chown(target, owner.pw_uid, owner.pw_gid)
    return target


@pytest.fixture(scope="session")
def exim_server(local_certificates) -> Iterator[Daemon]:
    exim = require("exim4")
    owner = _exim_user()
    folder = _owned_folder(owner)
    try:
        # The CA's certificate after the server's, as Postfix is often set
        # up: an untrusting client reads "self-signed certificate in
        # certificate chain".
        chain = folder / "cert-with-ca.pem"
        chain.write_bytes(
            local_certificates.cert_file.read_bytes()
            + local_certificates.ca_file.read_bytes()
        )
        os.chown(chain, owner.pw_uid, owner.pw_gid)
        key = _copy_for(owner, local_certificates.key_file, folder / "key.pem")
        config = render(
            TEMPLATES / "exim.conf", folder / "exim.conf",
            folder=folder, cert_file=chain, key_file=key,
            mailbox=folder / "mailbox", exim_user=EXIM_USER,
            user=USER, password=PASSWORD,
        )  # fmt: skip
        config.chmod(0o644)  # root's, and writable by nobody else
        values = {
            "exim": exim, "config": str(config), "user": USER,
            "password": PASSWORD, "mailbox": str(folder / "mailbox"),
        }  # fmt: skip

        def command(port: int) -> list:
            # -bdf: the daemon, in the foreground; -oX: its port.
            return [exim, "-C", config, "-bdf", "-oX", port]

        with run_daemon("Exim", folder, command, values=values) as daemon:
            yield daemon
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def deliver(daemon: Daemon) -> None:
    """Deliver every queued message now; returns once they are delivered."""
    result = subprocess.run(  # noqa: S603 (the peer's own queue runner)
        [daemon.values["exim"], "-C", daemon.values["config"], "-qff"],
        capture_output=True, text=True, timeout=QUEUE_RUN_TIMEOUT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
