"""Make a certificate authority for clients, and a client certificate.

    python3 make_client_certificate.py --folder certs --name ada

writes certs/client-ca.pem (what the server trusts, for its --client-ca),
certs/client.pem and certs/client-key.pem (what the client presents). For
development and tests only, like make_local_ca.py.
"""

import argparse
import os
from pathlib import Path

import trustme


def write_private(path: Path, data: bytes) -> None:
    """Write a private key that only its owner may read (mode 0600)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "wb") as file:
        file.write(data)


# --8<-- [start:make]
def make_client_certificate(
    folder: Path,
    name: str,
) -> tuple[Path, Path, Path]:
    """Write the clients' CA, and a certificate it signs for `name`."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_file = folder / "client-ca.pem"
    cert_file = folder / "client.pem"
    key_file = folder / "client-key.pem"

    # A CA of its own, apart from the one that signs the server's
    # certificate: who may connect is a separate decision from who the
    # server is. Its private key is never written, as in make_local_ca.py.
    ca = trustme.CA()
    # The name the server reads from the certificate: its common name.
    client = ca.issue_cert(common_name=name)
    ca.cert_pem.write_to_path(ca_file)
    chain = b"".join(pem.bytes() for pem in client.cert_chain_pems)
    cert_file.write_bytes(chain)
    write_private(key_file, client.private_key_pem.bytes())
    return ca_file, cert_file, key_file


# --8<-- [end:make]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("certs"))
    parser.add_argument("--name", default="ada", help="the client's name")
    args = parser.parse_args()

    # --8<-- [start:output]
    for path in make_client_certificate(args.folder, args.name):
        print(f"Wrote {path.name}")
        #> Wrote client-ca.pem
        #> Wrote client.pem
        #> Wrote client-key.pem

    # --8<-- [end:output]


if __name__ == "__main__":
    main()
