"""Download a large file in a stream, and upload a file, with requests.

Start api_server.py first, then:

    python transfer_files.py --output download.bin
"""

import argparse
import hashlib
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
def download(url: str, destination: Path) -> int:
    """Save what `url` serves to `destination`, CHUNK_SIZE bytes in memory at a time."""
    partial = destination.with_name(destination.name + ".part")
    # stream=True: requests reads the header now and the body only as we
    # iterate, instead of loading it all into memory first.
    with requests.get(url, stream=True, timeout=TIMEOUT) as response:
        response.raise_for_status()
        with partial.open("wb") as file:
            # A body shorter than its Content-Length raises here
            # (ChunkedEncodingError): a cut-off download is never kept.
            for chunk in response.iter_content(chunk_size=CHUNK_SIZE):
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
            # (file name, content, content type): as a browser's file input sends it
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=BASE_URL, help="the API server's base URL")
    parser.add_argument("--output", type=Path, default=Path("download.bin"))
    args = parser.parse_args()

    try:
        size = download(f"{args.url}/download?size={DOWNLOAD_SIZE}", args.output)
    except requests.ConnectionError:
        sys.exit(f"No server at {args.url}: start api_server.py")
    print(f"Downloaded {size} bytes")
    #> Downloaded 5242880 bytes

    report = upload(f"{args.url}/upload", args.output)
    same = report["sha256"] == sha256_of(args.output)  # the server hashed what it got
    print(report["filename"], report["size"], same)
    #> download.bin 5242880 True


if __name__ == "__main__":
    main()
