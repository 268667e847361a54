"""A byte stream keeps no message boundaries: what one recv() returns.

    python3 stream_boundaries.py

socket.socketpair() gives two connected stream sockets in one program, so the
example needs no server; a TCP connection behaves the same way.
"""

import socket


def main() -> None:
    sender, receiver = socket.socketpair()
    with sender, receiver:
        receiver.settimeout(5.0)  # never hang, even in a demonstration

        # Two messages, two sendall() calls...
        sender.sendall(b"Hello")
        sender.sendall(b"world")
        # ...and one recv() returns both: the boundary between them is gone.
        print(receiver.recv(1024))
        #> b'Helloworld'

        # recv(n) returns at most n bytes: the rest waits for the next call.
        sender.sendall(b"a longer message")
        print(receiver.recv(8), receiver.recv(1024))
        #> b'a longer' b' message'


if __name__ == "__main__":
    main()
