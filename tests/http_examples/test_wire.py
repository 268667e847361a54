"""Tests of the page "HTTP on the wire" (docs/http/wire.md)."""

import json
import re
import socket
import threading
from pathlib import Path

import pytest

CLIENT = "http_examples/raw_http_get.py"
ROOT_DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_client_prints_the_response(api_server, run_example):
    run_example(CLIENT, "--host", api_server.host, "--port", str(api_server.port))


def test_response_is_parsed_into_status_headers_and_body(api_server, import_snippet):
    client = import_snippet(CLIENT)
    response = client.http_get(api_server.host, api_server.port, "/notes/0")
    assert response.status_line == "HTTP/1.1 404 Not Found"
    # The two headers the program prints as "...": present, with real values.
    assert response.header("date").endswith(" GMT")
    assert re.fullmatch(r"Python/3\.\d+ aiohttp/[\d.]+", response.header("SERVER"))
    assert json.loads(response.body) == {"error": "no note 0"}
    assert int(response.header("Content-Length")) == len(response.body)


def test_body_is_complete_at_content_length_without_waiting_for_close(
    api_server, import_snippet
):
    client = import_snippet(CLIENT)
    # No "Connection: close": the server keeps the connection open after
    # answering, so a reader waiting for the close would time out.
    request = f"GET / HTTP/1.1\r\nHost: {api_server.host}\r\n\r\n".encode()
    address = (api_server.host, api_server.port)
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(request)
        header, rest = client.read_header(sock)
        status_line, headers = client.parse_header(header)
        response = client.Response(status_line, headers, b"")
        body = client.read_body(sock, response, rest)
    assert response.header("Connection") is None  # kept alive
    assert json.loads(body) == {"message": "Hello, HTTP!"}


def test_a_body_larger_than_one_recv_is_read_in_full(api_server, import_snippet):
    client = import_snippet(CLIENT)
    size = 1_000_000
    response = client.http_get(
        api_server.host, api_server.port, f"/download?size={size}"
    )
    assert len(response.body) == size == int(response.header("Content-Length"))


def served(raw_response: bytes, reader, *args):
    """Call `reader` on a socket that receives `raw_response`, then EOF."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.settimeout(5)
        theirs.sendall(raw_response)
        theirs.close()
        return reader(ours, *args)


def read_whole_response(sock, client):
    header, rest = client.read_header(sock)
    response = client.Response(*client.parse_header(header), b"")
    response.body = client.read_body(sock, response, rest)
    return response


def test_without_content_length_the_body_ends_at_close(import_snippet):
    client = import_snippet(CLIENT)
    raw = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
    response = served(raw, read_whole_response, client)
    assert response.body == b"until the end"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ncut",
            "body cut short: 3 of 100",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc", "chunked"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "closed before the header ended"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"x" * 70_000, "header over 65536 bytes"),
    ],
    ids=["cut-short", "chunked", "header-cut", "header-too-large"],
)
def test_a_broken_response_raises_connection_error(import_snippet, raw, error):
    client = import_snippet(CLIENT)
    with pytest.raises(ConnectionError, match=error):
        served(raw, read_whole_response, client)


def test_silent_server_makes_the_client_time_out(
    import_snippet, silent_server, monkeypatch
):
    client = import_snippet(CLIENT)
    monkeypatch.setattr(client, "TIMEOUT", 0.05)
    with pytest.raises(TimeoutError):
        client.http_get(*silent_server)


def test_client_program_says_what_to_do_when_no_server(run_example, free_port):
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(free_port))
    assert exit_info.value.code == (
        f"No server at 127.0.0.1:{free_port}: start api_server.py"
    )


@pytest.mark.interop(CLIENT, "nginx", "GET of a file, whole body at Content-Length")
def test_client_reads_a_file_from_nginx(nginx_static, import_snippet):
    client = import_snippet(CLIENT)
    page = "<!doctype html><title>nginx</title>\n" * 500  # 18 KB: several recv()s
    (nginx_static.folder / "www" / "wire.html").write_text(page)
    response = client.http_get(nginx_static.host, nginx_static.port, "/wire.html")
    assert response.status_line == "HTTP/1.1 200 OK"
    assert response.header("Server").startswith("nginx/")
    assert response.body == page.encode()


def test_an_ipv6_host_header_has_brackets(import_snippet):
    client = import_snippet(CLIENT)
    request = client.build_request("::1", 8080, "/notes")
    assert request.startswith(b"GET /notes HTTP/1.1\r\nHost: [::1]:8080\r\n")
    assert client.build_request("localhost", 80, "/").split(b"\r\n")[1] == (
        b"Host: localhost:80"
    )


@pytest.mark.interop(CLIENT, "nginx", "GET over IPv6: Host in brackets, --path")
def test_client_program_gets_a_path_from_nginx_over_ipv6(nginx_http, run_program):
    # nginx answers 400 to "Host: ::1:PORT": the brackets are required.
    (nginx_http.folder / "www" / "hello.json").write_text('{"message": "Hi"}')
    port = nginx_http.values["port"]
    printed, exit_code = run_program(
        CLIENT, "--host", "::1", "--port", port, "--path", "/hello.json"
    )
    lines = printed.splitlines()
    assert (lines[0], lines[-1], exit_code) == (
        "HTTP/1.1 200 OK",
        'Body: {"message": "Hi"}',
        None,
    )
    assert "Server: ..." in lines


@pytest.mark.interop(CLIENT, "nginx", "an HTML 404 page is read whole")
def test_client_reads_an_error_page_from_nginx(nginx_http, import_snippet):
    client = import_snippet(CLIENT)
    port = int(nginx_http.values["port"])
    response = client.http_get("::1", port, "/status/404")
    assert response.status_line == "HTTP/1.1 404 Not Found"
    assert response.header("Content-Type") == "text/html"
    assert b"<h1>404 Not Found</h1>" in response.body


def test_each_failure_of_the_program_takes_one_line(
    run_program, import_snippet, silent_server, monkeypatch
):
    client = import_snippet(CLIENT)  # the module run_program runs
    monkeypatch.setattr(client, "TIMEOUT", 0.05)
    host, port = silent_server
    printed, exit_code = run_program(client, "--host", host, "--port", str(port))
    assert (printed, exit_code) == ("", f"No answer from {host}:{port} within 0.05 s")

    def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    printed, exit_code = run_program(CLIENT, "--host", "no-such-host.invalid")
    assert exit_code == "Cannot find no-such-host.invalid: Name or service not known"


def test_a_server_that_hangs_up_is_reported_in_one_line(run_example):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def hang_up():
            conn, _ = listener.accept()
            conn.close()

        thread = threading.Thread(target=hang_up)
        thread.start()
        try:
            with pytest.raises(SystemExit) as exit_info:
                run_example(CLIENT, "--port", str(port))
        finally:
            thread.join(timeout=5)
    assert exit_info.value.code in (
        f"127.0.0.1:{port}: connection closed before the header ended",
        f"127.0.0.1:{port}: [Errno 104] Connection reset by peer",
    )


class RecordingSocket:
    """A client socket that keeps a copy of every byte sent and received."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.sent, self.received = sock, bytearray(), bytearray()

    def sendall(self, data: bytes) -> None:
        self.sent += data
        self.sock.sendall(data)

    def recv(self, size: int) -> bytes:
        data = self.sock.recv(size)
        self.received += data
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.sock.close()


def wire_lines(data: bytes, port: int) -> list[str]:
    """The lines as sent, each with its CR LF shown; the port as PORT, and no
    Date or Server line (the time, and nginx's version)."""
    header, _, body = data.decode().partition("\r\n\r\n")
    lines = [
        line.replace(f":{port}", ":PORT") + "\\r\\n"
        for line in header.split("\r\n")
        if not line.startswith(("Date:", "Server:"))
    ]
    return [*lines, "\\r\\n", *([body] if body else [])]


@pytest.mark.interop(CLIENT, "nginx", "the figure of the exchange, recorded")
def test_the_figure_shows_the_bytes_exchanged_with_nginx(
    nginx_http, import_snippet, monkeypatch, request
):
    from sequence_figures import Actor, Message, Note, check_figure, sequence_svg

    client = import_snippet(CLIENT)
    recorded = []
    connect = socket.create_connection

    def recording_connection(*args, **kwargs):
        recorded.append(RecordingSocket(connect(*args, **kwargs)))
        return recorded[-1]

    monkeypatch.setattr(socket, "create_connection", recording_connection)
    port = int(nginx_http.values["port"])
    response = client.http_get("127.0.0.1", port, "/hello")
    assert response.body == b'{"message": "Hello, HTTP!"}'
    [tap] = recorded
    assert {"Date", "Server"} <= {name for name, _ in response.headers}
    svg = sequence_svg(
        "wire-exchange",
        "A GET request and its response, as raw_http_get.py and nginx sent them",
        "The client sends four lines and an empty line: GET /hello HTTP/1.1, "
        "Host with the address and port, Accept: application/json and "
        "Connection: close, each ending in a carriage return and a line feed. "
        "nginx answers with the status line HTTP/1.1 200 OK, the headers "
        "Content-Type: application/json, Content-Length: 27 and Connection: "
        "close, an empty line, and the 27 bytes of the JSON body. Recorded by "
        "a test from the real programs.",
        actors=[Actor("Client", "raw_http_get.py"), Actor("Server", "nginx")],
        steps=[
            Note("One TCP connection. Every line ends with \\r\\n; an empty line "
                 "ends the header."),
            Message(0, 1, wire_lines(bytes(tap.sent), port)),
            Message(1, 0, wire_lines(bytes(tap.received), port)),
            Note("Date and Server are left out: they change with the time and "
                 "the version. Then nginx closes the connection."),
        ],
    )  # fmt: skip
    check_figure(request, ROOT_DOCS / "http" / "wire-exchange.svg", svg)
