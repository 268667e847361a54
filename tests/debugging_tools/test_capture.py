"""Tests of "Seeing the traffic" (docs/guides/seeing-the-traffic.md): packets.

tcpdump captures the TCP echo exchange on the loopback interface, ss shows its
sockets, and a TLS capture is decrypted by tshark with the secrets that
Python's ssl module wrote to SSLKEYLOGFILE. Each transcript on the page is
the one these tests recorded, with what changes from run to run replaced by
fixed values.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest
from debugging_tools.captures import (
    PAGE_CLIENT_PORTS,
    PAGE_SERVER_PORT,
    TCP_LINE,
    label,
    page_form,
    parse_packets,
    same_capture,
    same_columns,
    ss,
    tcpdump,
    with_page_ports,
)
from debugging_tools.transcripts import DOCS, check_transcript, page_transcript
from peers.programs import require
from sequence_figures import Actor, Message, Note, check_figure, sequence_svg

PAGE = DOCS / "guides" / "seeing-the-traffic.md"
FIGURE = DOCS / "guides" / "tcp-echo-capture.svg"
ECHO_SERVER = "sockets/tcp_echo_server.py"
ECHO_CLIENT = "sockets/tcp_echo_client.py"
HTTP_CLIENT = "debugging_tools/http_debug.py"
PACKETS = 10  # -c: the handshake (3), the message and its echo (4), the close (3)


def echo_capture(server_port: int, run_example) -> tuple[list[str], str]:
    """tcpdump's header lines, and its packets during one echo exchange."""
    arguments = ["-i", "lo", "-nn", "-c", str(PACKETS), f"tcp port {server_port}"]
    with tcpdump(arguments) as capture:
        run_example(ECHO_CLIENT, "--port", str(server_port))
        # Ten packets end the capture; if TCP merged two ACKs into one, the
        # exchange is over with nine, and tcpdump is stopped after a while.
        capture.finish(timeout=1.0)
    return capture.header, capture.stdout


@pytest.mark.interop(ECHO_CLIENT, "tcpdump", "captured on lo: handshake, data, close")
def test_tcpdump_shows_the_handshake_the_message_and_the_close(
    start_server, run_example, request
):
    page_command = f"sudo tcpdump -i lo -nn -c {PACKETS} 'tcp port {PAGE_SERVER_PORT}'"
    with start_server(ECHO_SERVER) as server:
        header, output = echo_capture(server.port, run_example)
    packets = parse_packets(output, server.port)
    # What the page says of these packets, checked on the capture itself.
    assert [p.flags for p in packets[:3]] == ["S", "S.", "."]  # the handshake
    assert [p.from_client for p in packets[:3]] == [True, False, True]
    sent = [p.length for p in packets if p.from_client and p.length]
    echoed = [p.length for p in packets if not p.from_client and p.length]
    assert sent == echoed == [len("Hello, TCP! 👋".encode())]
    closing = [p.from_client for p in packets if "F" in p.flags]
    assert closing == [True, False]  # the client's FIN first, then the server's
    lines = page_form(packets, server.port)
    transcript = "\n".join([f"$ {page_command}", *header, *lines])
    check_transcript(request, PAGE, "tcpdump-echo", transcript, same_capture)
    # The figure shows the page's capture (a real one, which this one matched).
    shown = page_transcript(PAGE, "tcpdump-echo").splitlines()[3:]
    check_figure(request, FIGURE, echo_figure(parse_packets("\n".join(shown))))


def echo_figure(packets) -> str:
    steps = [Note("The handshake")]
    for index, packet in enumerate(packets):
        if packet.length and not any(p.length for p in packets[:index]):
            steps.append(Note("The message, and its echo"))
        if "F" in packet.flags and not any("F" in p.flags for p in packets[:index]):
            steps.append(Note("The close: a FIN from each side"))
        sender, receiver = (0, 1) if packet.from_client else (1, 0)
        steps.append(Message(sender, receiver, [label(packet)]))
    return sequence_svg(
        "tcp-echo-capture",
        "The TCP echo exchange, as tcpdump captured it",
        f"{len(packets)} packets between tcp_echo_client.py and "
        "tcp_echo_server.py, in order: "
        + "; ".join(
            ("client: " if packet.from_client else "server: ") + label(packet)
            for packet in packets
        )
        + ".",
        actors=[
            Actor("Client", "tcp_echo_client.py"),
            Actor("Server", "tcp_echo_server.py"),
        ],
        steps=steps,
    )


def test_ss_shows_listen_time_wait_and_established(start_server, run_example, request):
    require("ss")
    ncat = require("ncat")
    with start_server(ECHO_SERVER) as server:
        port = str(server.port)
        ports = {port: PAGE_SERVER_PORT}
        page = [f"$ ss -tln 'sport = :{PAGE_SERVER_PORT}'"]
        page.append(ss("-tln", f"sport = :{port}").rstrip("\n"))
        # After one echo: the client's end of the connection waits in
        # TIME-WAIT, since the client closed first.
        run_example(ECHO_CLIENT, "--port", port)
        either = f"( sport = :{port} or dport = :{port} )"
        shown = f"( sport = :{PAGE_SERVER_PORT} or dport = :{PAGE_SERVER_PORT} )"
        after = ss("-tan", either)
        page.append(f"$ ss -tan '{shown}'")
        page.append(after.rstrip("\n"))
        assert [line.split()[0] for line in after.splitlines()[1:]] == [
            "LISTEN",
            "TIME-WAIT",
        ]
        # A client that connects and waits: ncat, as the page suggests.
        waiting = subprocess.Popen(  # noqa: S603 (a peer from the tests' own list)
            [ncat, "-v", "127.0.0.1", port], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            # "Ncat: Connected to 127.0.0.1:PORT." once it is: no guessing.
            while "Connected" not in (line := waiting.stderr.readline()):
                assert line, "ncat did not connect"
            during = ss("-tn", either)
        finally:
            waiting.communicate(timeout=10)  # the end of its input: ncat exits
        page.append(f"$ ss -tn '{shown}'")
        page.append(during.rstrip("\n"))
        assert [line.split()[0] for line in during.splitlines()[1:]] == ["ESTAB"] * 2
    clients = dict.fromkeys(  # the clients' ports, in the order they appear
        word.rsplit(":", 1)[1]
        for output in (after, during)
        for line in output.splitlines()[1:]
        for word in line.split()[3:5]
        if not word.endswith((f":{port}", ":*"))
    )
    ports.update(zip(clients, PAGE_CLIENT_PORTS, strict=False))
    transcript = with_page_ports("\n".join(page), ports)
    check_transcript(request, PAGE, "ss-states", transcript, same_columns)


@pytest.mark.interop(HTTP_CLIENT, "nginx", "HTTPS with SSLKEYLOGFILE set")
@pytest.mark.interop(HTTP_CLIENT, "tshark", "decrypts its capture with the key log")
def test_sslkeylogfile_lets_tshark_decrypt_a_capture(
    quiet_nginx,
    local_certificates,
    import_snippet,
    monkeypatch,
    capsys,
    tmp_path,
    request,
):
    tshark = require("tshark")
    tls_port = quiet_nginx.values["tls_port"]
    keys, pcap = tmp_path / "keys.log", tmp_path / "capture.pcap"
    client = import_snippet(HTTP_CLIENT)
    url = f"https://127.0.0.1:{tls_port}/"
    # The page's command, `tcpdump -i lo -w capture.pcap 'tcp port 8443'`;
    # --print -l -nn prints each packet as it is written, so the test knows
    # when the client has closed and the capture holds the whole exchange.
    arguments = ["-i", "lo", "-w", str(pcap), "--print", "-l", "-nn"]
    arguments.append(f"tcp port {tls_port}")
    ca = str(local_certificates.ca_file)
    with tcpdump(arguments) as capture:
        monkeypatch.setenv("SSLKEYLOGFILE", str(keys))
        monkeypatch.setattr(
            sys, "argv", ["http_debug.py", "--url", url, "--cafile", ca]
        )
        client.main()
        for _ in range(100):  # packets, at most: far more than one GET takes
            match = TCP_LINE.match(capture.next_line())
            assert match, "tcpdump stopped before the client closed"
            if match["dport"] == tls_port and match["flags"][0] in "FR":
                break
    assert capsys.readouterr().out.endswith("\n200 Hello from nginx\n")
    commands = (
        "$ sudo tcpdump -i lo -w capture.pcap 'tcp port 8443'\n"
        "$ SSLKEYLOGFILE=keys.log python3 http_debug.py \\\n"
        "    --url https://127.0.0.1:8443/ --cafile certs/ca.pem\n"
    )
    check_transcript(request, PAGE, "tls-capture", commands)
    secrets = keys.read_text(encoding="ascii")
    assert "CLIENT_TRAFFIC_SECRET_0 " in secrets  # TLS 1.3: one per direction
    assert "SERVER_TRAFFIC_SECRET_0 " in secrets
    assert b"Hello from nginx" not in pcap.read_bytes()  # it was encrypted
    command = [
        "tshark", "-r", "capture.pcap", "-o", "tls.keylog_file:keys.log",
        "-d", f"tcp.port=={tls_port},tls", "-Y", "http",
    ]  # fmt: skip
    result = subprocess.run(  # noqa: S603 (a peer from the tests' own list)
        [tshark, "-n", *command[1:]], cwd=tmp_path, capture_output=True,
        text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "GET / HTTP/1.1" in result.stdout
    assert "HTTP/1.1 200 OK" in result.stdout
    page_command = shlex.join(command).replace(tls_port, "8443")
    transcript = f"$ {page_command}\n{result.stdout}"
    check_transcript(request, PAGE, "tshark-decrypted", transcript, same_tshark)


def same_tshark(text: str) -> str:
    """tshark's lines without their frame numbers, times and sizes."""
    return "\n".join(
        " ".join(word for word in line.split() if not word.replace(".", "").isdigit())
        for line in text.splitlines()
    )
