"""Download a large file in a stream, resumably, and upload one, with requests.

Start api_server.py first, then:

    python3 transfer_files.py --output download.bin

or download any file, resuming where a cut-off try stopped if the server
answers Range requests (file_server.py and nginx do):

    python3 transfer_files.py --download http://127.0.0.1:8081/big.iso
"""

import argparse
import hashlib
import socket
import sys
from pathlib import Path

import requests

BASE_URL = "http://127.0.0.1:8080"
# The read timeout bounds each wait for data, not the whole transfer: a
# large download may take minutes as long as bytes keep arriving.
TIMEOUT = (3.05, 30)
CHUNK_SIZE = 64 * 1024
DOWNLOAD_SIZE = 5 * 1024 * 1024  # what main() asks the server for


# --8<-- [start:download]
class WrongPart(Exception):
    """The server answered a Range request with other bytes than asked."""


def download(url: str, destination: Path) -> int:
    """Save what `url` serves to `destination`, CHUNK_SIZE bytes at a time.

    The bytes go to destination.part first. If a cut-off try left one, ask
    for what follows it (Range); a server that ignores Range sends it all.
    """
    partial = destination.with_name(destination.name + ".part")
    have = partial.stat().st_size if partial.exists() else 0
    # identity: the bytes of the file itself, so that a range counts them.
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    # stream=True: requests reads the header now and the body only as we
    # iterate, instead of loading it all into memory first.
    with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT) as r:
        if r.status_code == 416 and r.headers.get("Content-Range") == (
            f"bytes */{have}"
        ):
            partial.replace(destination)  # nothing after what we have
            return have
        r.raise_for_status()
        resumed = r.status_code == 206
        part = r.headers.get("Content-Range", "")
        if resumed and not part.startswith(f"bytes {have}-"):
            raise WrongPart(f"asked for bytes {have}-, got another part")
        with partial.open("ab" if resumed else "wb") as file:
            # A body shorter than its Content-Length raises here
            # (ChunkedEncodingError): the .part file stays, to resume from.
            for chunk in r.iter_content(chunk_size=CHUNK_SIZE):
                file.write(chunk)
    # Only a complete download gets the real name.
    partial.replace(destination)
    return destination.stat().st_size


# --8<-- [end:download]
# --8<-- [start:upload]
def upload(url: str, path: Path) -> dict:
    """POST the file as multipart/form-data, in the form field "file"."""
    with path.open("rb") as file:
        response = requests.post(
            url,
            # (file name, content, content type), as a browser's form does
            files={"file": (path.name, file, "application/octet-stream")},
            timeout=TIMEOUT,
        )
    response.raise_for_status()
    return response.json()


# --8<-- [end:upload]
def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


# --8<-- [start:failure]
def failure(error: Exception) -> str:
    """What went wrong, in one line that names the real cause."""
    if isinstance(error, requests.HTTPError):  # the server answered: no
        answer = error.response
        return f"HTTP {answer.status_code} {answer.reason} for {answer.url}"
    if isinstance(error, requests.JSONDecodeError):
        return "the answer is not JSON: is this the API server?"
    if isinstance(error, KeyError):  # JSON, but not of the shape we expect
        return f"the answer has no {error}: is this the API server?"
    if isinstance(error, WrongPart):
        return f"{error}: delete the .part file to start over"
    cause = error  # requests wraps urllib3's error, which wraps the socket's
    while cause.__cause__ or cause.__context__:
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, requests.Timeout) or isinstance(cause, TimeoutError):
        return "no data in time: run again to resume"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "the download was cut off: run again to resume"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused: start api_server.py"
    if isinstance(cause, socket.gaierror):
        return f"unknown host name: {cause.strerror}"
    return f"{type(cause).__name__}: {cause}"


# --8<-- [end:failure]
def main() -> None:
    doc = (__doc__ or "Download and upload files with requests.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--url", default=BASE_URL, help="the API's base URL")
    parser.add_argument("--download", metavar="URL", help="only download this")
    parser.add_argument("--output", type=Path, help="default: download.bin")
    args = parser.parse_args()
    base_url = args.url.rstrip("/")

    try:
        if args.download:  # any file, named as in its URL unless --output
            name = args.download.rstrip("/").rsplit("/", 1)[-1]
            output = args.output or Path(name or "download.bin")
            size = download(args.download, output)
            print(f"Downloaded {size} bytes")
        else:
            download_and_upload(base_url, args.output or Path("download.bin"))
    except (requests.RequestException, WrongPart, KeyError) as error:
        sys.exit(f"{args.download or base_url}: {failure(error)}")


def download_and_upload(base_url: str, output: Path) -> None:
    size = download(f"{base_url}/download?size={DOWNLOAD_SIZE}", output)
    print(f"Downloaded {size} bytes")
    #> Downloaded 5242880 bytes

    report = upload(f"{base_url}/upload", output)
    # The server hashed what it received: the same bytes?
    same = report["sha256"] == sha256_of(output)
    print(report["filename"], report["size"], same)
    #> download.bin 5242880 True


if __name__ == "__main__":
    main()
