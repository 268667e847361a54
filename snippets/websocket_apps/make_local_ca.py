"""Make a local certificate authority (CA) and a server certificate signed by it.

For servers on your own machine: the certificate is valid for 127.0.0.1, ::1
and localhost only, and no browser or program trusts the CA unless told to.

    python make_local_ca.py

writes ca.pem, server.pem and server-key.pem into the folder certificates/.
"""

import argparse
from pathlib import Path

import trustme

FOLDER = Path("certificates")
NAMES = ["127.0.0.1", "::1", "localhost"]  # the names the certificate covers


# --8<-- [start:make]
def make_certificates(folder: Path, names: list[str]) -> dict[str, Path]:
    """Write a CA certificate, and a certificate for `names` with its key."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: folder / f"{name}.pem" for name in ("ca", "server", "server-key")}
    # The CA's own private key stays in memory and is never written: once
    # this program ends, nobody can sign another certificate with this CA.
    ca = trustme.CA()
    server = ca.issue_cert(*names)
    ca.cert_pem.write_to_path(files["ca"])
    # The server presents its certificate followed by the chain up to the CA.
    for index, blob in enumerate(server.cert_chain_pems):
        blob.write_to_path(files["server"], append=index > 0)
    # The server's private key: readable by its owner only.
    files["server-key"].touch(mode=0o600)
    files["server-key"].chmod(0o600)
    server.private_key_pem.write_to_path(files["server-key"])
    return files


# --8<-- [end:make]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=FOLDER)
    args = parser.parse_args()

    files = make_certificates(args.folder, NAMES)
    print(f"For clients to trust: {files['ca'].name}")
    #> For clients to trust: ca.pem
    print(f"For the server: {files['server'].name} and {files['server-key'].name}")
    #> For the server: server.pem and server-key.pem


if __name__ == "__main__":
    main()
