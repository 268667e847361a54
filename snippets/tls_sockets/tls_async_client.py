"""The TLS echo client in asyncio: open_connection(ssl=...) does the handshake.

It needs the local CA's certificate, certs/ca.pem, and a running
tls_echo_server.py:

    python3 make_local_ca.py --folder certs
    python3 tls_async_client.py --ca-file certs/ca.pem
"""

import argparse
import asyncio
import re
import ssl
import sys
from pathlib import Path

HOST = "127.0.0.1"
PORT = 8794  # tls_echo_server.py's
CA_FILE = "certs/ca.pem"
TIMEOUT = 10.0  # seconds for the connection and handshake, and each reply
SOURCE_LINE = re.compile(r" \(_ssl\.c:\d+\)$")


# --8<-- [start:echo]
async def echo_lines(
    lines: list[str],
    host: str,
    port: int,
    context: ssl.SSLContext,
    timeout: float = TIMEOUT,
) -> tuple[str, list[str]]:
    """Send each line over TLS; return the TLS version and the replies."""
    # ssl=context makes it TLS, and the handshake part of the connection:
    # wait_for bounds both. server_hostname defaults to `host`.
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context), timeout
    )
    try:
        tls = writer.get_extra_info("ssl_object")  # the ssl.SSLObject
        replies = []
        for line in lines:
            writer.write(line.encode() + b"\n")
            await writer.drain()
            reply = await asyncio.wait_for(reader.readline(), timeout)
            replies.append(reply.decode("utf-8", "replace").rstrip("\n"))
        return tls.version(), replies
    finally:
        writer.close()
        await writer.wait_closed()


# --8<-- [end:echo]
def failure(error: Exception, timeout: float) -> str:
    """What went wrong, in one line that names the cause."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate not trusted: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed: {SOURCE_LINE.sub('', str(error))}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused: is tls_echo_server.py running?"
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return f"no answer in {timeout} s"
    return f"{type(error).__name__}: {error}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST, help="e.g. ::1 for IPv6")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--ca-file", default=CA_FILE, help="the CA to trust")
    parser.add_argument("--timeout", type=float, default=TIMEOUT)
    args = parser.parse_args()

    if not Path(args.ca_file).is_file():
        sys.exit(
            f"No file {args.ca_file}: make it with "
            "python3 make_local_ca.py --folder certs"
        )
    context = ssl.create_default_context(cafile=args.ca_file)
    lines = ["Hello, asyncio!", "Still encrypted."]
    try:
        version, replies = asyncio.run(
            echo_lines(lines, args.host, args.port, context, args.timeout)
        )
    except (OSError, asyncio.TimeoutError) as error:
        reason = failure(error, args.timeout)
        sys.exit(f"{args.host} port {args.port}: {reason}")
    # --8<-- [start:output]
    print(f"TLS version: {version}")
    #> TLS version: TLSv1.3
    for reply in replies:
        print(f"Echo: {reply}")
        #> Echo: Hello, asyncio!
        #> Echo: Still encrypted.

    # --8<-- [end:output]


if __name__ == "__main__":
    main()
