"""Upload, list and download files with FTP over TLS (ftplib.FTP_TLS).

Start ftp_server.py first, then:

    python3 ftp_transfer.py --cafile certs/ca.pem

It asks for the password (the test server's is "correct horse battery
staple"), or reads it from the environment variable FTP_PASSWORD; the user
name comes from --user, or FTP_USER, or is "ada".
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
TIMEOUT = 10.0  # seconds: for connecting, and for each read or write after
USER = "ada"
MAKE_CA = "python3 make_local_ca.py"  # makes certs/ca.pem


class IncompleteUpload(Exception):
    """The server stored fewer (or more) bytes than were sent."""


class MissingFeature(Exception):
    """The server lacks a command this program needs."""


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
        ftp.connect(host, port)  # "::1" works too: ftplib then uses EPSV
        ftp.login(user, password)  # sends AUTH TLS first: never in clear
        ftp.prot_p()  # without this, listings and files travel in clear
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
        raise IncompleteUpload(f"{remote}: the server stored another size")


def download(ftp: ftplib.FTP, remote: str, local: Path) -> None:
    """Download a file in binary mode; `local` appears only once complete."""
    partial = local.with_name(local.name + ".part")
    try:
        with partial.open("wb") as file:
            ftp.retrbinary(f"RETR {remote}", file.write)
    except BaseException:
        partial.unlink(missing_ok=True)  # no half file left behind
        raise
    partial.replace(local)


# --8<-- [end:transfer]
# --8<-- [start:list]
def features(ftp: ftplib.FTP) -> set[str]:
    """The extensions the server says it has (FEAT, RFC 2389)."""
    try:
        reply = ftp.sendcmd("FEAT")
    except ftplib.error_perm:  # 500 or 502: a server older than FEAT
        return set()
    # "211-Features:", one feature per line, each indented, "211 End".
    lines = reply.splitlines()[1:-1]
    return {line.split()[0].upper() for line in lines if line.strip()}


def list_files(ftp: ftplib.FTP, folder: str = "") -> dict[str, int]:
    """Map each file's name in `folder` to its size."""
    offered = features(ftp)
    if "MLST" in offered:
        # MLSD (RFC 3659) gives facts in a fixed format; LIST gives what
        # the server's `ls` prints, which differs from server to server.
        return {
            name: int(facts["size"])
            for name, facts in ftp.mlsd(folder, facts=["type", "size"])
            if facts["type"] == "file"
        }
    if "SIZE" not in offered:
        raise MissingFeature("the server offers neither MLSD nor SIZE")
    # vsftpd and others: names from NLST, then each one's SIZE.
    listed = ftp.nlst(*[folder] if folder else [])  # switches to text mode
    ftp.voidcmd("TYPE I")  # SIZE counts bytes in binary mode only
    sizes = {}
    for path in listed:
        name = path.rpartition("/")[2]  # some servers add "folder/"
        try:
            sizes[name] = ftp.size(f"{folder}/{name}" if folder else name)
        except ftplib.error_perm:  # 550: a folder, or gone meanwhile
            continue
    return sizes


# --8<-- [end:list]
def transfer_report(ftp: ftplib.FTP, folder: Path) -> None:
    """Upload a small report, list it, download it, compare."""
    original, copy = folder / "report.csv", folder / "copy.csv"
    original.write_bytes(b"day,orders\r\nMonday,12\r\nTuesday,17\r\n")
    print(ftp.getwelcome())
    #> 220 Test FTP server ready
    upload(ftp, original, "report.csv")
    how = "MLSD" if "MLST" in features(ftp) else "NLST and SIZE"
    size = list_files(ftp)["report.csv"]
    print(f"report.csv on the server: {size} bytes (listed with {how})")
    #> report.csv on the server: 35 bytes (listed with MLSD)
    download(ftp, "report.csv", copy)
    same = copy.read_bytes() == original.read_bytes()
    print("Downloaded copy is identical:", same)
    #> Downloaded copy is identical: True


# --8<-- [start:errors]
def reason(error: Exception, host: str, port: int) -> str:
    """One line that says what went wrong, and what to do about it."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(error, ConnectionRefusedError):
        return f"No server at {where}: start ftp_server.py"
    if isinstance(error, TimeoutError):  # before OSError: it is one
        return f"No answer from {where} within {TIMEOUT:g} s"
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"Certificate of {host} not trusted ({error.verify_message}):"
            f" pass --cafile certs/ca.pem ({MAKE_CA} makes it)"
        )
    if isinstance(error, ftplib.error_perm):  # 5xx: do not try again
        return f"The server refused: {error}"
    if isinstance(error, ftplib.error_temp):  # 4xx: try again later
        return f"The server failed, try again later: {error}"
    if isinstance(error, (IncompleteUpload, MissingFeature)):
        return f"Transfer failed: {error}"
    if isinstance(error, EOFError):  # ftplib's word for a closed connection
        return f"{where} closed the connection"
    return f"Connection to {where} failed: {error}"


# --8<-- [end:errors]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST, help="e.g. ::1 for IPv6")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--cafile", type=Path, help="e.g. certs/ca.pem")
    parser.add_argument("--user", default=os.environ.get("FTP_USER", USER))
    parser.add_argument("--folder", help="the server's folder to work in")
    args = parser.parse_args()
    if args.cafile and not args.cafile.is_file():
        sys.exit(f"No CA file {args.cafile}: {MAKE_CA} makes it")
    # Never a password on the command line: other users see it in `ps`.
    password = os.environ.get("FTP_PASSWORD") or getpass.getpass()

    try:
        ftp = connect(args.user, password, args.cafile, args.host, args.port)
    except ftplib.error_perm as error:  # 530: wrong user name or password
        sys.exit(f"Login refused: {error}")
    except ftplib.all_errors as error:  # network, TLS and FTP errors
        sys.exit(reason(error, args.host, args.port))
    try:
        with ftp, tempfile.TemporaryDirectory() as folder:
            if args.folder:
                ftp.cwd(args.folder)
            transfer_report(ftp, Path(folder))
    except (*ftplib.all_errors, IncompleteUpload, MissingFeature) as error:
        sys.exit(reason(error, args.host, args.port))


if __name__ == "__main__":
    main()
