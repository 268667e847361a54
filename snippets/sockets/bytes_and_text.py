"""Sockets carry bytes, programs want text: encoding, decoding, cut characters.

python3 bytes_and_text.py
"""

import codecs
import socket
import struct

TIMEOUT = 5.0  # seconds: even a demonstration never hangs


# --8<-- [start:receive_text]
def receive_text(sock: socket.socket, chunk_size: int = 64 * 1024) -> str:
    """Read until the peer closes, decoding UTF-8 as the bytes arrive."""
    # An incremental decoder keeps a character cut between two reads until its
    # last byte arrives; decoding each chunk on its own would fail there.
    decoder = codecs.getincrementaldecoder("utf-8")()
    parts = []
    while chunk := sock.recv(chunk_size):
        parts.append(decoder.decode(chunk))
    # final=True: the end of the text, so a character still cut now raises.
    parts.append(decoder.decode(b"", final=True))
    return "".join(parts)


# --8<-- [end:receive_text]
def main() -> None:
    # --8<-- [start:encode]
    text = "Grüße 👋"
    data = text.encode("utf-8")  # what a socket sends: bytes, never str
    print(len(text), len(data), data)
    #> 7 12 b'Gr\xc3\xbc\xc3\x9fe \xf0\x9f\x91\x8b'

    # A recv() may stop in the middle of a character:
    try:
        data[:10].decode("utf-8")
    except UnicodeDecodeError as error:
        print(f"{error.reason}: bytes {error.start} to {error.end - 1}")
        #> unexpected end of data: bytes 8 to 9

    # Bytes from a peer you do not trust: replace what is not UTF-8.
    print(b"caf\xe9".decode("utf-8", errors="replace"))
    #> caf�

    # Numbers travel as bytes in an agreed order: "!" is network (big-endian).
    print(struct.pack("!I", 1027), struct.unpack("!I", b"\x00\x00\x04\x03")[0])
    #> b'\x00\x00\x04\x03' 1027
    # --8<-- [end:encode]

    # --8<-- [start:socketpair]
    sender, receiver = socket.socketpair()  # two connected sockets, no server
    with sender, receiver:
        receiver.settimeout(TIMEOUT)
        sender.sendall(data)
        sender.close()  # the end of the text: the receiver reads b""
        # Read 5 bytes at a time: ß and 👋 arrive cut in two.
        print(receive_text(receiver, chunk_size=5))
        #> Grüße 👋
    # --8<-- [end:socketpair]


if __name__ == "__main__":
    main()
