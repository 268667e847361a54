"""Make a local certificate authority, and a certificate it signs for us.

    python3 make_local_ca.py --folder certs

writes certs/ca.pem (what clients trust), certs/server.pem and
certs/server-key.pem (what the server presents). For development and tests
only: trust this CA in your own clients, never in your system's trust store.
"""

import argparse
import os
from pathlib import Path

import trustme

# The names a client may use to reach a server on this machine: the
# certificate is valid for these and nothing else.
IDENTITIES = ("127.0.0.1", "::1", "localhost")


def write_private(path: Path, data: bytes) -> None:
    """Write a private key that only its owner may read (mode 0600)."""
    # Created with that mode, not chmod-ed afterwards: at no moment can
    # another user of the machine read it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "wb") as file:
        file.write(data)


# --8<-- [start:make]
def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """Write the CA's certificate, a server certificate and its key."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_file = folder / "ca.pem"
    cert_file = folder / "server.pem"
    key_file = folder / "server-key.pem"

    # The CA's own private key stays in memory and is never written: once this
    # program exits, nobody can sign another certificate with it.
    ca = trustme.CA()
    server = ca.issue_cert(*IDENTITIES)
    ca.cert_pem.write_to_path(ca_file)
    # The chain: the server's certificate, then any intermediate ones.
    chain = b"".join(pem.bytes() for pem in server.cert_chain_pems)
    cert_file.write_bytes(chain)
    write_private(key_file, server.private_key_pem.bytes())
    return ca_file, cert_file, key_file


# --8<-- [end:make]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("certs"))
    args = parser.parse_args()

    for path in make_certificates(args.folder):
        print(f"Wrote {path.name}")
        #> Wrote ca.pem
        #> Wrote server.pem
        #> Wrote server-key.pem


if __name__ == "__main__":
    main()
