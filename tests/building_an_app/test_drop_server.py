"""drop_server.py: each row of its limits table broken on purpose, then a
well-behaved client served; the folder it serves; IPv6; a clean drain.

Every attack is bounded and waits on events (a reply, a close, a log line).
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import sys
import time

import pytest
from drop_client import list_names, put
from drop_protocol import (
    GET,
    HEADER_SIZE,
    LIST,
    PUT,
    STORED,
    Code,
    encode,
    get_request,
    parse_header,
    put_request,
)
from hostile.attacks import (
    flood,
    low_file_limit,
    memory_of,
    reset,
    served_within,
    slow_drip,
)

from .conftest import (
    DEADLINE,
    MAX_CONNECTIONS,
    MAX_SIZE,
    SERVER,
    TIMEOUT,
    connect,
    drop_server_running,
    error_of,
    exchange,
    read_to_end,
)


def well_behaved(server) -> list[str]:
    """What a client that follows the rules gets: the list of names."""
    return list_names(server.host, server.port, timeout=TIMEOUT)


def served_meanwhile(server, record_wait) -> None:
    record_wait(served_within(TIMEOUT, lambda: well_behaved(server)))


# --- Time for a request ------------------------------------------------------


@pytest.mark.hostile(SERVER, "silent", limit="Time for a request")
def test_a_silent_client_gets_too_slow_at_the_deadline(shared_drop, record_wait):
    with connect(shared_drop) as silent:
        start = time.monotonic()
        served_meanwhile(shared_drop, record_wait)
        reply = read_to_end(silent)
        took = time.monotonic() - start
    assert error_of(reply).code == Code.TOO_SLOW
    assert DEADLINE * 0.9 < took < DEADLINE + 2


@pytest.mark.hostile(SERVER, "slow drip", limit="Time for a request")
def test_a_slow_drip_gets_no_more_time_than_silence(shared_drop, record_wait):
    request = put_request("drip.txt", b"x" * 1000)
    with connect(shared_drop) as dripper:
        closed_after = slow_drip(dripper, request, every=0.05, for_at_most=5)
        served_meanwhile(shared_drop, record_wait)
    # Each byte came well within any idle timeout; the deadline still held.
    assert closed_after is not None
    assert closed_after < DEADLINE + 2
    assert "drip.txt" not in well_behaved(shared_drop)


# --- Payload size --------------------------------------------------------------


@pytest.mark.hostile(SERVER, "oversize", limit="Payload size")
def test_an_oversized_upload_gets_too_large_not_a_reset(shared_drop, record_wait):
    # The whole frame is sent: the server reads and drops it after its
    # error, so the client reads the reason rather than a reset.
    reply = exchange(shared_drop, put_request("big.bin", b"x" * 4 * MAX_SIZE))
    assert error_of(reply).code == Code.TOO_LARGE
    assert f"the limit is {MAX_SIZE}" in error_of(reply).text
    assert "big.bin" not in well_behaved(shared_drop)
    served_meanwhile(shared_drop, record_wait)


@pytest.mark.hostile(SERVER, "oversize", limit="Payload size")
def test_an_announced_4_gib_is_refused_at_once(shared_drop):
    with connect(shared_drop) as liar:
        liar.sendall(b"DP\x01P\xff\xff\xff\xff")  # and then nothing
        assert error_of(liar.recv(1024)).code == Code.TOO_LARGE


# --- Frames -------------------------------------------------------------------


@pytest.mark.hostile(SERVER, "garbage", limit="Frames")
@pytest.mark.parametrize(
    ("garbage", "code"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", Code.BAD_FRAME),
        (b"\xc3\x28\xff\xfe invalid UTF-8 \x80", Code.BAD_FRAME),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", Code.BAD_FRAME),  # TLS
        (b"DP\x02L\x00\x00\x00\x00", Code.BAD_VERSION),
        (encode(b"Z"), Code.UNKNOWN_TYPE),
        (encode(LIST, b"extra"), Code.BAD_FRAME),
        (encode(PUT), Code.BAD_FRAME),
        (encode(PUT, b"\x09hello"), Code.BAD_FRAME),  # longer than the frame
    ],
    ids=lambda value: repr(value)[:20] if isinstance(value, bytes) else None,
)
def test_garbage_gets_an_error_and_the_next_client_is_served(
    shared_drop, garbage, code, record_wait
):
    assert error_of(exchange(shared_drop, garbage)).code == code
    served_meanwhile(shared_drop, record_wait)


@pytest.mark.hostile(SERVER, "garbage", limit="Frames")
def test_a_frame_cut_short_ends_quietly(shared_drop, record_wait):
    assert exchange(shared_drop, put_request("cut.txt", b"abc")[:-1]) == b""
    shared_drop.wait_for("Client closed mid-request")
    served_meanwhile(shared_drop, record_wait)


# --- A reset mid-message ----------------------------------------------------------


@pytest.mark.hostile(SERVER, "reset")
def test_an_upload_reset_midway_leaves_no_trace(shared_drop, record_wait):
    sock = connect(shared_drop)
    sock.sendall(put_request("reset.bin", b"x" * 40000)[:20000])
    shared_drop.wait_for("PUT reset.bin: receiving")  # the upload began
    reset(sock)
    shared_drop.wait_for("Client went away")
    assert "reset.bin" not in well_behaved(shared_drop)
    assert list((shared_drop.folder / ".incoming").iterdir()) == []
    served_meanwhile(shared_drop, record_wait)


# --- Connections at once, and file descriptors --------------------------------


def replies_from(sockets: list[socket.socket], count: int) -> dict:
    """socket -> reply, for the first `count` sockets that answer."""
    replies = {}
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + 3 * TIMEOUT
        while len(replies) < count and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=TIMEOUT):
                selector.unregister(key.fileobj)
                replies[key.fileobj] = read_to_end(key.fileobj)
    return replies


def still_waiting(sock: socket.socket) -> bool:
    """Open, and nothing to read: a connection that holds its slot."""
    sock.setblocking(False)
    try:
        sock.recv(1)
    except BlockingIOError:
        return True
    return False


@pytest.mark.hostile(SERVER, "flood", limit="Connections at once")
def test_a_flood_beyond_the_cap_gets_busy(start_server, tmp_path, record_wait):
    # A long deadline: the connections that got a slot keep it until the
    # flood ends, so exactly MAX_CONNECTIONS are held.
    with drop_server_running(start_server, tmp_path, "--deadline", "30") as server:
        with flood(server.host, server.port, 200) as sockets:
            replies = replies_from(sockets, len(sockets) - MAX_CONNECTIONS)
            assert len(sockets) == 200
            codes = {error_of(reply).code for reply in replies.values()}
            assert codes == {Code.BUSY}
            held = [sock for sock in sockets if sock not in replies]
            assert len(held) == MAX_CONNECTIONS
            assert all(still_waiting(sock) for sock in held)
        # The flood has gone: once the server has seen it, its slots are free.
        for _ in held:
            server.wait_for("Client closed mid-request")
        served_meanwhile(server, record_wait)


@pytest.mark.hostile(SERVER, "fd exhaustion", limit="File descriptors")
def test_few_file_descriptors_lower_the_cap_and_it_survives(
    start_server, tmp_path, record_wait
):
    cap = (64 - 16) // 2  # two descriptors a connection, 16 spare
    with drop_server_running(
        start_server, tmp_path, "--max-connections", "500",
        "--deadline", "30", preexec_fn=low_file_limit(64),
    ) as server:  # fmt: skip
        assert server.cap == cap
        # Stopped, the server accepts nothing: the 80 connections wait in
        # the kernel's queue, and reach it at once when it goes on.
        os.kill(server.pid, signal.SIGSTOP)
        try:
            with flood(server.host, server.port, 80) as sockets:
                os.kill(server.pid, signal.SIGCONT)
                replies = replies_from(sockets, len(sockets) - cap)
                codes = {error_of(reply).code for reply in replies.values()}
                assert codes == {Code.BUSY}
                assert len(replies) == len(sockets) - cap
        finally:
            os.kill(server.pid, signal.SIGCONT)
        server.wait_for("Out of file descriptors: accept() paused")
        for _ in range(cap):
            server.wait_for("Client closed mid-request")
        served_meanwhile(server, record_wait)
    # asyncio paused accept(): the server said so once, not per socket.
    log = server.log + server.running.output.splitlines()
    assert sum("Out of file descriptors" in line for line in log) <= 2


# --- Memory per client ------------------------------------------------------------


@pytest.mark.hostile(SERVER, "non-reading", limit="Memory per client")
def test_clients_that_stop_reading_cost_little_and_are_dropped(large_drop, record_wait):
    before = memory_of(large_drop.pid)["VmRSS"]
    stalled = []
    for _ in range(5):
        sock = connect(large_drop, buffer=4096)
        sock.sendall(get_request("large.bin"))
        stalled.append(sock)
    served_meanwhile(large_drop, record_wait)
    for _ in stalled:
        large_drop.wait_for("Too slow: over")
    peak = memory_of(large_drop.pid)["VmHWM"]
    for sock in stalled:
        sock.close()
    # Five 8 MiB replies in memory would be 40 MiB: chunks cost far less.
    assert peak - before < 16 * 2**20, (before, peak)


def put_file(server, name: str, content: bytes) -> None:
    reply = exchange(server, put_request(name, content))
    assert parse_header(reply[:HEADER_SIZE], 1024).kind == STORED


# --- Stored files and bytes ---------------------------------------------------------


@pytest.mark.hostile(SERVER, "oversize", limit="Stored files and bytes")
def test_a_full_store_refuses_before_reading(start_server, tmp_path, record_wait):
    with drop_server_running(
        start_server, tmp_path, "--max-files", "2", "--max-bytes", "1000"
    ) as server:
        put_file(server, "one.txt", b"1" * 400)
        put_file(server, "two.txt", b"2" * 400)
        third = exchange(server, put_request("three.txt", b"3"))
        assert error_of(third).code == Code.FULL
        too_many_bytes = exchange(server, put_request("one.txt", b"1" * 700))
        assert error_of(too_many_bytes).code == Code.FULL
        put_file(server, "one.txt", b"replaced")  # replacing adds no file
        served_meanwhile(server, record_wait)
    assert (tmp_path / "one.txt").read_bytes() == b"replaced"


# --- Names ---------------------------------------------------------------------


@pytest.mark.hostile(SERVER, "confinement", limit="Names")
@pytest.mark.parametrize(
    "name", [b"../outside.txt", b"a/b", b".env", b"\xff\xfe", b"x" * 101]
)
def test_a_name_that_is_not_a_plain_file_name_is_refused(
    shared_drop, name, record_wait
):
    assert error_of(exchange(shared_drop, encode(GET, name))).code == (Code.BAD_NAME)
    upload = encode(PUT, bytes([len(name)]) + name + b"content")
    assert error_of(exchange(shared_drop, upload)).code == Code.BAD_NAME
    served_meanwhile(shared_drop, record_wait)


@pytest.mark.hostile(SERVER, "confinement", limit="Names")
def test_symlinks_and_dotfiles_in_the_folder_are_never_served(
    start_server, tmp_path, record_wait
):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the network")
    folder = tmp_path / "stored"
    (folder / ".incoming").mkdir(parents=True)
    (folder / ".incoming" / "left-by-a-crash").write_text("half")
    (folder / "passwd").symlink_to(secret)
    (folder / ".env").write_text("TOKEN=1")
    (folder / "public.txt").write_text("hello")
    with drop_server_running(start_server, folder) as server:
        assert well_behaved(server) == ["public.txt"]
        missing = exchange(server, get_request("passwd"))
        assert error_of(missing).code == Code.NOT_FOUND
        served_meanwhile(server, record_wait)
    assert list((folder / ".incoming").iterdir()) == []


# --- What a server must do besides ---------------------------------------------------


def test_over_ipv6_sigterm_finishes_an_upload_that_started(start_server, tmp_path):
    """Drain: SIGTERM stops new connections, not the requests under way."""
    request = put_request("late.txt", b"finished after SIGTERM")
    options = ("--host", "::1", "--deadline", "10")
    with (
        drop_server_running(start_server, tmp_path, *options) as drop_server,
        connect(drop_server) as uploader,
    ):
        assert drop_server.host == "::1"
        (tmp_path / "v6.txt").write_bytes(b"over IPv6")
        put(tmp_path / "v6.txt", "v6.txt", "::1", drop_server.port)
        assert list_names("::1", drop_server.port) == ["v6.txt"]
        uploader.sendall(request[:20])  # the header, the name, some content
        drop_server.wait_for("PUT late.txt: receiving")
        drop_server.running.process.terminate()  # SIGTERM
        drop_server.wait_for("Draining 1 connections")
        with pytest.raises(ConnectionRefusedError):
            connect(drop_server)
        uploader.sendall(request[20:])
        reply = read_to_end(uploader)
        assert parse_header(reply[:HEADER_SIZE], 1024).kind == STORED
        drop_server.wait_for("Drained")
        assert drop_server.running.process.wait(timeout=10) == 0
    assert (tmp_path / "late.txt").read_bytes() == b"finished after SIGTERM"


def start_fails_with(import_snippet, monkeypatch, *args: str) -> str:
    """What drop_server.py exits with when it cannot start (in this process:
    it stops before it would serve)."""
    server = import_snippet(SERVER)
    monkeypatch.setattr(sys, "argv", ["drop_server.py", *args])
    with pytest.raises(SystemExit) as exit:
        server.main()
    return exit.value.code


def test_a_port_in_use_is_one_line(import_snippet, monkeypatch, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        line = start_fails_with(
            import_snippet, monkeypatch, "--port", port, "--folder", str(tmp_path)
        )
    assert line.startswith("Cannot start: [Errno 98] ")
    assert "\n" not in line


def test_a_missing_certificate_is_one_line(import_snippet, monkeypatch, tmp_path):
    line = start_fails_with(
        import_snippet, monkeypatch, "--folder", str(tmp_path),
        "--cert", "certs/missing.pem", "--key", "certs/missing-key.pem",
    )  # fmt: skip
    assert line == (
        "Cannot read certs/missing.pem and certs/missing-key.pem: "
        "make_local_ca.py --folder certs"
    )
