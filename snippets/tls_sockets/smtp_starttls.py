"""STARTTLS by hand: an SMTP connection that turns into TLS halfway through.

It asks an SMTP server what it offers (EHLO), upgrades the connection
(STARTTLS), and asks again. Start smtp_server.py first (see the SMTP page):

    python3 make_local_ca.py --folder certs
    python3 smtp_starttls.py --ca-file certs/ca.pem
"""

import argparse
import asyncio
import ssl
import sys
from pathlib import Path

HOST = "127.0.0.1"
PORT = 8025  # smtp_server.py's
CA_FILE = "certs/ca.pem"
TIMEOUT = 10.0  # seconds for the connection, each reply and the handshake
CLIENT_NAME = "localhost"  # who we say we are in EHLO


class SMTPError(Exception):
    """The server answered, but not what the next step needs."""


# --8<-- [start:dialogue]
async def reply(reader: asyncio.StreamReader) -> tuple[int, list[str]]:
    """One SMTP reply: its code and its lines ("250-A", "250-B", "250 C")."""
    lines = []
    while True:
        raw = await asyncio.wait_for(reader.readline(), TIMEOUT)
        if not raw.endswith(b"\n"):
            raise ConnectionError("the server closed the connection")
        line = raw.decode("ascii", "replace").rstrip("\r\n")
        lines.append(line[4:])
        if line[3:4] != "-":  # a space after the code: the last line
            return int(line[:3]), lines


async def command(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, text: str
) -> tuple[int, list[str]]:
    writer.write(text.encode("ascii") + b"\r\n")
    await writer.drain()
    return await reply(reader)


async def extensions(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> list[str]:
    """What the server offers: EHLO's reply, but its first line."""
    code, lines = await command(reader, writer, f"EHLO {CLIENT_NAME}")
    if code != 250:
        raise SMTPError(f"EHLO refused: {code} {' '.join(lines)}")
    return lines[1:]  # the first line is the server's name


# --8<-- [end:dialogue]
# --8<-- [start:upgrade]
async def start_tls(
    writer: asyncio.StreamWriter,
    reader: asyncio.StreamReader,
    context: ssl.SSLContext,
    server_name: str,
) -> asyncio.StreamWriter:
    """Turn the connection into TLS; the writer to use from now on."""
    if sys.version_info >= (3, 11):
        await writer.start_tls(
            context, server_hostname=server_name, ssl_handshake_timeout=TIMEOUT
        )
        return writer
    return await start_tls_before_3_11(  # pragma: no cover (Python 3.10)
        writer, reader, context, server_name
    )


async def start_tls_before_3_11(
    writer: asyncio.StreamWriter,
    reader: asyncio.StreamReader,
    context: ssl.SSLContext,
    server_name: str,
) -> asyncio.StreamWriter:
    """Python 3.10 has no StreamWriter.start_tls(): the loop's, by hand."""
    loop = asyncio.get_running_loop()
    protocol = writer.transport.get_protocol()
    await writer.drain()
    tls_transport = await loop.start_tls(
        writer.transport, protocol, context,
        server_hostname=server_name, ssl_handshake_timeout=TIMEOUT,
    )  # fmt: skip
    # The reader stays: the same protocol feeds it, now with plain text
    # that TLS decrypted. Writes must go through TLS: a new writer.
    return asyncio.StreamWriter(tls_transport, protocol, reader, loop)


# --8<-- [end:upgrade]
# --8<-- [start:session]
async def compare(
    host: str, port: int, context: ssl.SSLContext
) -> tuple[list[str], list[str], str]:
    """EHLO before and after STARTTLS; and the TLS version agreed."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port), TIMEOUT
    )
    try:
        code, greeting = await reply(reader)
        if code != 220:
            raise SMTPError(f"no greeting: {code} {' '.join(greeting)}")
        before = await extensions(reader, writer)
        if "STARTTLS" not in before:
            # Going on would send the rest (a password...) in clear text.
            raise SMTPError("the server does not offer STARTTLS")
        code, lines = await command(reader, writer, "STARTTLS")
        if code != 220:
            raise SMTPError(f"STARTTLS refused: {code} {' '.join(lines)}")
        writer = await start_tls(writer, reader, context, host)
        # What the server said before TLS may have been forged: RFC 3207
        # says to forget it and ask again.
        after = await extensions(reader, writer)
        version = writer.get_extra_info("ssl_object").version()
        await command(reader, writer, "QUIT")
        return before, after, version
    finally:
        # A failed handshake has closed the connection already; Python
        # 3.10 would then wait in wait_closed() for ever.
        if not writer.transport.is_closing():
            writer.close()
            await writer.wait_closed()


# --8<-- [end:session]
def failure(error: Exception) -> str:
    """What went wrong, in one line that names the cause."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate not trusted: {error.verify_message}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused: is smtp_server.py running?"
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return f"no answer in {TIMEOUT} s"
    return f"{type(error).__name__}: {error}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST, help="e.g. ::1 for IPv6")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--ca-file", default=CA_FILE, help="the CA to trust")
    args = parser.parse_args()

    if not Path(args.ca_file).is_file():
        sys.exit(
            f"No file {args.ca_file}: make it with "
            "python3 make_local_ca.py --folder certs"
        )
    context = ssl.create_default_context(cafile=args.ca_file)
    try:
        session = compare(args.host, args.port, context)
        before, after, version = asyncio.run(session)
    except (OSError, SMTPError, asyncio.TimeoutError) as error:
        sys.exit(f"{args.host} port {args.port}: {failure(error)}")
    # --8<-- [start:output]
    print("Before TLS:", ", ".join(before))
    #> Before TLS: SIZE 10485760, 8BITMIME, STARTTLS, HELP
    print(f"After TLS ({version}):", ", ".join(after))
    #> After TLS (TLSv1.3): SIZE 10485760, 8BITMIME, AUTH LOGIN PLAIN, HELP

    # --8<-- [end:output]


if __name__ == "__main__":
    main()
