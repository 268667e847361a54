"""A system account for the SSH servers that log in real users (sshd, Dropbear).

OpenSSH's sshd and Dropbear check a password against /etc/shadow and run the
session as that user: no configuration gives them a user of their own. So
`ssh_login` makes one account for the tests, if it does not exist yet, and
gives it a random password:

* a system account (`useradd --system`: no password ageing, no mail spool),
  whose only use is these tests: the comment field says so, and an account
  of that name without that comment is never touched;
* a home directory (uploads land there) and /bin/sh as its shell (the
  servers run a command with the user's shell), no other group, no sudo;
* its password is random, set with chpasswd and kept in a folder that only
  root can read (/run, so a reboot forgets it and the next run sets a new
  one). The test processes (xdist workers) share it under a file lock:
  setting a new password per process would lock out the other processes.

The servers are started on loopback only, and allow this account only
(`AllowUsers`), so the account logs in nowhere else. This needs root, as the
servers do; .ci/run runs the tests as root. Without root, the tests that use
it fail and say so.
"""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "ssh-example"
COMMENT = "python-networking tests, SSH logins on loopback"
STATE = Path("/run/python-networking-tests")


@dataclass(frozen=True)
class Login:
    user: str
    password: str
    home: Path
    group: str  # its own group, which only it belongs to


def _run(*argv: str, input: str | None = None) -> None:
    subprocess.run(  # noqa: S603 (fixed system tools)
        argv, input=input, text=True, check=True, capture_output=True, timeout=30
    )


def _ensure_account() -> tuple[pwd.struct_passwd, bool]:
    """The account, and whether it was made just now."""
    try:
        account, created = pwd.getpwnam(USER), False
    except KeyError:
        _run(
            "useradd", "--system", "--create-home", "--home-dir", f"/home/{USER}",
            "--shell", "/bin/sh", "--comment", COMMENT, USER,
        )  # fmt: skip
        account, created = pwd.getpwnam(USER), True
    if account.pw_gecos != COMMENT:
        pytest.fail(
            f"A user {USER!r} exists that these tests did not create: remove it,"
            " or run the tests on another machine",
            pytrace=False,
        )
    return account, created


@pytest.fixture(scope="session")
def ssh_login() -> Login:
    """The test account and its password (made on first use, as root)."""
    if os.geteuid() != 0:
        pytest.fail(
            "The SSH interoperability tests start sshd and Dropbear, which need"
            " root, and a system account to log in as: run them as root (.ci/run"
            " does)",
            pytrace=False,
        )
    STATE.mkdir(mode=0o700, exist_ok=True)
    with open(STATE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process at a time from here
        account, created = _ensure_account()
        saved = STATE / "password"
        if created or not saved.exists():
            password = secrets.token_urlsafe(24)
            _run("chpasswd", input=f"{USER}:{password}\n")
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
            descriptor = os.open(saved, flags, 0o600)
            with open(descriptor, "w") as file:
                file.write(password)
        password = saved.read_text()
    home = Path(account.pw_dir)
    if not home.is_dir():  # removed by hand since: make it again
        home.mkdir(mode=0o755)
        os.chown(home, account.pw_uid, account.pw_gid)
    group = grp.getgrgid(account.pw_gid).gr_name
    return Login(USER, password, home, group)
