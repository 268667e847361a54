"""The peers' programs: where each comes from and which version it is.

A test asks for a program with `require("nginx")`. If the program is not
installed, the test fails with the command that installs it: a test that
proves an example against a real peer never passes by being skipped.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

PEERS = Path(__file__).resolve().parent
NODE_PEERS = PEERS / "node"


@dataclass(frozen=True)
class Program:
    """A peer program: its display name, Debian package and version probe."""

    name: str  # how the interoperability table names it
    executable: str  # a name on PATH, or an absolute path
    package: str  # the Debian package that installs it
    version_command: tuple[str, ...] = ()
    version_pattern: str = r"(\d+(?:\.\d+)+\w*)"
    # A program that a distribution updates to each new upstream release
    # (Chromium, Node.js) is named by its major version only, which the tests
    # accept from that release on: the runner's browser is the newest one.
    rolling: bool = False


OPENSSH = (("ssh", "-V"), r"OpenSSH_([\w.]+)")
DROPBEAR = r"v([\d.]+)"

PROGRAMS: dict[str, Program] = {
    program.executable.rsplit("/", 1)[-1]: program
    for program in [
        Program("nginx", "nginx", "nginx", ("nginx", "-v"), r"nginx/([\d.]+)"),
        Program("OpenSSH sshd", "/usr/sbin/sshd", "openssh-server", *OPENSSH),
        Program("OpenSSH ssh", "ssh", "openssh-client", *OPENSSH),
        Program("OpenSSH sftp", "sftp", "openssh-client", *OPENSSH),
        Program("OpenSSH scp", "scp", "openssh-client", *OPENSSH),
        Program("ssh-keygen", "ssh-keygen", "openssh-client", *OPENSSH),
        Program("Dropbear", "dropbear", "dropbear-bin", ("dropbear", "-V"), DROPBEAR),
        Program("Dropbear dbclient", "dbclient", "dropbear-bin",
                ("dbclient", "-V"), DROPBEAR),
        Program("vsftpd", "vsftpd", "vsftpd"),
        Program("Exim", "exim4", "exim4-daemon-light", ("exim4", "--version"),
                r"Exim version ([\d.]+)"),
        Program("websocketd", "websocketd", "websocketd"),
        Program("curl", "curl", "curl", ("curl", "--version"), r"curl ([\d.]+)"),
        Program("GNU Wget", "wget", "wget", ("wget", "--version"), r"Wget ([\d.]+)"),
        Program("aria2", "aria2c", "aria2", ("aria2c", "--version"),
                r"aria2 version ([\d.]+)"),
        Program("OpenSSL", "openssl", "openssl", ("openssl", "version"),
                r"OpenSSL ([\d.]+)"),
        Program("socat", "socat", "socat", ("socat", "-V"), r"socat version ([\d.]+)"),
        Program("Ncat", "ncat", "ncat", ("ncat", "--version"), r"Version ([\d.]+)"),
        Program("lftp", "lftp", "lftp", ("lftp", "--version"), r"Version ([\d.]+)"),
        Program("swaks", "swaks", "swaks", ("swaks", "--version"), r"version ([\d.]+)"),
        Program("Node.js", "node", "nodejs", ("node", "--version"), r"v([\d.]+)",
                rolling=True),
        Program("Chromium", "chromium", "chromium", ("chromium", "--version"),
                r"(?:Chromium|Chrome) ([\d.]+)", rolling=True),
        Program("tinyproxy", "tinyproxy", "tinyproxy", ("tinyproxy", "-v"),
                r"tinyproxy ([\d.]+)"),
        Program("tcpdump", "tcpdump", "tcpdump", ("tcpdump", "--version"),
                r"tcpdump version ([\d.]+)"),
        # Not a peer: it makes Chromium trust the local CA (tests/peers/websocket.py).
        Program("NSS certutil", "certutil", "libnss3-tools"),
        Program("TShark", "tshark", "tshark", ("tshark", "--version"),
                r"TShark \(Wireshark\) ([\d.]+)"),
        Program("ss", "ss", "iproute2", ("ss", "--version"), r"iproute2-([\d.]+)"),
    ]
}  # fmt: skip


def install_hint(program: Program) -> str:
    return (
        f"{program.name} is not installed: `apt-get install {program.package}` "
        "(Debian; as root, tools/install-peers installs every peer the tests use)"
    )


def require(executable: str) -> str:
    """The path of a peer program; if it is absent, fail and say how to install it."""
    program = PROGRAMS[executable]
    if executable == "chromium" and os.environ.get("CHROMIUM"):
        program = replace(program, executable=os.environ["CHROMIUM"])
    found = shutil.which(program.executable)
    if found is None:
        pytest.fail(install_hint(program), pytrace=False)
    return found


@functools.cache
def version(executable: str) -> str:
    """The peer's upstream version, as the interoperability page shows it."""
    program = PROGRAMS[executable]
    if program.version_command:
        path = require(executable)
        command = [path, *program.version_command[1:]]
        if program.version_command[0] != executable:  # sshd -V says nothing useful
            command = list(program.version_command)
        result = subprocess.run(  # noqa: S603 (a peer program's --version)
            command, capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=10, check=False,
        )  # fmt: skip
        text = result.stdout + result.stderr
    else:  # vsftpd and websocketd print no version: ask the package manager
        result = subprocess.run(  # noqa: S603
            ["dpkg-query", "-W", "-f=${Version}", program.package],  # noqa: S607
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        text = re.sub(r"^\d+:", "", result.stdout)  # drop a Debian epoch
    match = re.search(program.version_pattern, text)
    assert match, f"no version in {text!r}"
    return match[1]


@functools.cache
def node_package_version(package: str) -> str:
    """The version of an npm package that tests/peers/node/package-lock.json pins."""
    lock = json.loads((NODE_PEERS / "package-lock.json").read_text(encoding="utf-8"))
    return lock["packages"][f"node_modules/{package}"]["version"]
