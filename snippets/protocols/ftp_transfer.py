"""Upload, list and download files with FTP over TLS (ftplib.FTP_TLS).

Start ftp_server.py first, then:

    python ftp_transfer.py --cafile certs/ca.pem

It asks for the password (the test server's is "correct horse battery
staple"), or reads it from the environment variable FTP_PASSWORD.
"""

import argparse
import ftplib
import getpass
import os
import ssl
import sys
import tempfile
from pathlib import Path

HOST = "127.0.0.1"
PORT = 8021  # a real server listens on 21
TIMEOUT = 10.0  # seconds: for connecting, and for each read or write after that
USER = "ada"


class IncompleteUpload(Exception):
    """The server stored fewer (or more) bytes than were sent."""


# --8<-- [start:connect]
def connect(
    user: str,
    password: str,
    cafile: Path | None = None,
    host: str = HOST,
    port: int = PORT,
) -> ftplib.FTP_TLS:
    """Log in over TLS, with the data connections encrypted too."""
    # Verifies the server's certificate and name; cafile=None trusts the
    # system's authorities. The timeout applies to data connections too.
    context = ssl.create_default_context(cafile=cafile)
    # ruff's S321 flags any use of ftplib; FTP_TLS encrypts, hence the noqa.
    ftp = ftplib.FTP_TLS(context=context, timeout=TIMEOUT)  # noqa: S321
    try:
        ftp.connect(host, port)
        ftp.login(user, password)  # sends AUTH TLS first: the password is encrypted
        ftp.prot_p()  # without this, listings and files would travel in clear
    except BaseException:
        ftp.close()
        raise
    return ftp


# --8<-- [end:connect]
# --8<-- [start:transfer]
def upload(ftp: ftplib.FTP, local: Path, remote: str) -> None:
    """Upload a file, in binary mode (byte for byte), and check its size."""
    with local.open("rb") as file:
        ftp.storbinary(f"STOR {remote}", file)
    # FTP has no standard checksum, but a short file is caught by its size.
    if ftp.size(remote) != local.stat().st_size:
        raise IncompleteUpload(f"{remote}: the server stored a different size")


def download(ftp: ftplib.FTP, remote: str, local: Path) -> None:
    """Download a file in binary mode; `local` appears only once it is complete."""
    partial = local.with_name(local.name + ".part")
    try:
        with partial.open("wb") as file:
            ftp.retrbinary(f"RETR {remote}", file.write)
    except BaseException:
        partial.unlink(missing_ok=True)  # no half file left behind
        raise
    partial.replace(local)


def list_files(ftp: ftplib.FTP, folder: str = "") -> dict[str, int]:
    """Map each file's name to its size, from the server's machine-readable listing."""
    # MLSD (RFC 3659) gives facts in a fixed format; LIST gives whatever the
    # server's `ls` prints, which differs from server to server.
    return {
        name: int(facts["size"])
        for name, facts in ftp.mlsd(folder, facts=["type", "size"])
        if facts["type"] == "file"
    }


# --8<-- [end:transfer]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--cafile", type=Path, help="e.g. certs/ca.pem")
    parser.add_argument("--user", default=USER)
    args = parser.parse_args()
    # Never a password on the command line: other users see it in `ps`.
    password = os.environ.get("FTP_PASSWORD") or getpass.getpass()

    with tempfile.TemporaryDirectory() as folder:
        original, copy = Path(folder, "report.csv"), Path(folder, "copy.csv")
        original.write_bytes(b"day,orders\r\nMonday,12\r\nTuesday,17\r\n")
        try:
            ftp = connect(args.user, password, args.cafile, args.host, args.port)
        except ConnectionRefusedError:
            sys.exit(f"No server at {args.host}:{args.port}: start ftp_server.py")
        except ftplib.error_perm as error:  # 530: wrong user name or password
            sys.exit(f"Login refused: {error}")
        with ftp:  # sends QUIT and closes the connection, whatever happens
            print(ftp.getwelcome())
            #> 220 Test FTP server ready
            upload(ftp, original, "report.csv")
            print(f"report.csv on the server: {list_files(ftp)['report.csv']} bytes")
            #> report.csv on the server: 35 bytes
            download(ftp, "report.csv", copy)
        print(
            "Downloaded copy is identical:", copy.read_bytes() == original.read_bytes()
        )
        #> Downloaded copy is identical: True


if __name__ == "__main__":
    main()
