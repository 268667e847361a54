"""swaks as a peer: an SMTP client that is not smtplib, with STARTTLS and AUTH.

Debian's swaks only recommends the Perl module its TLS needs, Net::SSLeay
(package libnet-ssleay-perl): without it, `swaks -tls` exits with "TLS not
available". The `swaks` fixture checks for both and fails with what to install.
"""

from __future__ import annotations

import subprocess

import pytest

from peers.programs import require

TLS_PACKAGE = "libnet-ssleay-perl"


@pytest.fixture(scope="session")
def swaks() -> str:
    """The path of swaks, once its TLS support is known to be there."""
    path = require("swaks")
    probe = subprocess.run(  # perl, loading one module
        ["perl", "-MNet::SSLeay", "-e", "1"],  # noqa: S607
        capture_output=True, timeout=10, check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.fail(
            f"swaks needs Net::SSLeay for STARTTLS: `apt-get install {TLS_PACKAGE}`"
            " (.ci/run installs it)",
            pytrace=False,
        )
    return path
