"""Make a certificate authority of your own, and a certificate it signs for 127.0.0.1.

The SMTP and FTP servers of these pages speak TLS, and their clients check the
server's certificate, as every client must. This program writes what both
sides need, into the folder tls/:

    python local_ca.py

Clients trust tls/ca.pem; servers present tls/server.pem with tls/server.key.
"""

import argparse
import os
from pathlib import Path

import trustme

FOLDER = Path("tls")
# The names clients may use to reach the servers: the certificate is valid for
# these only, as a real one is valid only for its server's domain names.
SERVER_NAMES = ("127.0.0.1", "::1", "localhost")


def write_private(path: Path, data: bytes) -> None:
    """Write a private key that only its owner may read (mode 0600)."""
    # Created with the right mode rather than chmod-ed after: no moment when
    # another user could read it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "wb") as file:
        file.write(data)


# --8<-- [start:make]
def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """Write ca.pem, server.pem and server.key into `folder`; return their paths."""
    # The authority's own private key stays in memory and is never written:
    # once this program exits, nobody can sign another certificate with it.
    authority = trustme.CA()
    server = authority.issue_cert(*SERVER_NAMES)

    folder.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = (
        folder / name for name in ("ca.pem", "server.pem", "server.key")
    )
    ca_file.write_bytes(authority.cert_pem.bytes())
    # The server sends its certificate followed by the chain up to the authority.
    cert_file.write_bytes(b"".join(pem.bytes() for pem in server.cert_chain_pems))
    write_private(key_file, server.private_key_pem.bytes())
    return ca_file, cert_file, key_file


# --8<-- [end:make]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=FOLDER)
    args = parser.parse_args()

    ca_file, cert_file, key_file = make_certificates(args.folder)
    print(f"Clients trust {ca_file.name}")
    #> Clients trust ca.pem
    print(f"Servers present {cert_file.name} and keep {key_file.name} private")
    #> Servers present server.pem and keep server.key private


if __name__ == "__main__":
    main()
