"""Tests of "Seeing the traffic" (docs/guides/seeing-the-traffic.md): what the
libraries print when asked, against real servers. Each program's main() runs
in this process, with the command line the page shows (and the test's port).

http.client and smtplib print each line with set_debuglevel(1); urllib3 and
websockets log with `logging`; aiohttp calls the coroutines of a TraceConfig.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pytest
from debugging_tools.transcripts import DOCS, check_transcript, replace_numbers

PAGE = DOCS / "guides" / "seeing-the-traffic.md"
HTTP_CLIENT = "debugging_tools/http_debug.py"
SMTP_CLIENT = "debugging_tools/smtp_debug.py"
SMTP_SERVER = "protocols/smtp_server.py"
REQUESTS_LOG = "debugging_tools/requests_logging.py"
AIOHTTP_TRACE = "debugging_tools/aiohttp_tracing.py"
WEBSOCKETS_LOG = "debugging_tools/websockets_logging.py"
NGINX_PORT = "8088"  # where the page says nginx listens
SMTP_PORT = "8025"  # smtp_server.py's
WEBSOCKET_PORT = "8780"  # echo_server.py's
PASSWORD = "correct horse battery staple"  # noqa: S105 (smtp_server.py's test account)


def run_main(import_snippet, monkeypatch, capsys, relative: str, *arguments):
    """main() of a snippet, in this process, with these arguments: its output."""
    module = import_snippet(relative)
    monkeypatch.setattr(sys, "argv", [Path(relative).name, *arguments])
    module.main()
    return capsys.readouterr()


LIBRARIES = ("urllib3", "websockets")  # whose loggers the programs set


@pytest.fixture
def fresh_logging(monkeypatch):
    """Call it to have logging as a new process has it.

    pytest adds handlers of its own to the root logger for each test, which
    would make the programs' basicConfig() do nothing, and other programs
    run in this process may have set a level on a library's logger
    (chat_watcher.py sets websockets.client's). After the test, everything
    is as it was.
    """
    manager = logging.root.manager
    loggers = [logging.root] + [
        logger
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and name.split(".")[0] in LIBRARIES
    ]
    saved = [(logger, logger.level, logger.propagate) for logger in loggers]

    def fresh() -> None:
        monkeypatch.setattr(logging.root, "handlers", [])
        for logger in loggers[1:]:
            logger.setLevel(logging.NOTSET)
            logger.propagate = True

    yield fresh
    for name in LIBRARIES:  # loggers the programs made, if none were there
        logging.getLogger(name).setLevel(logging.NOTSET)
    for logger, level, propagate in saved:
        logger.propagate = propagate
        logger.setLevel(level)  # which also clears the loggers' caches


def logged_and_printed(output) -> str:
    """What a terminal shows: the log (stderr), then what was printed last."""
    return output.err + output.out


def same_http(text: str) -> str:
    """All but the date of the answer."""
    return re.sub(r"Date: .* GMT", "Date: (now)", text)


@pytest.mark.interop(HTTP_CLIENT, "nginx", "every line sent and received, printed")
def test_http_client_prints_each_line_at_debug_level_1(
    quiet_nginx, import_snippet, monkeypatch, capsys, request
):
    port = str(quiet_nginx.port)
    url = f"http://127.0.0.1:{port}/"
    printed = run_main(
        import_snippet, monkeypatch, capsys, HTTP_CLIENT, "--url", url
    ).out
    lines = printed.splitlines()
    assert lines[0] == (
        f"send: b'GET / HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\n"
        "Accept-Encoding: identity\\r\\n\\r\\n'"
    )
    assert lines[1] == "reply: 'HTTP/1.1 200 OK\\r\\n'"
    assert "header: Server: nginx" in lines
    assert lines[-1] == "200 Hello from nginx"
    shown_url = url.replace(port, NGINX_PORT)
    transcript = replace_numbers(
        f"$ python3 http_debug.py --url {shown_url}\n{printed}", {port: NGINX_PORT}
    )
    check_transcript(request, PAGE, "http-client-debug", transcript, same_http)


def test_http_client_failures_are_one_line(
    free_port, import_snippet, monkeypatch, capsys
):
    url = f"http://127.0.0.1:{free_port}/"
    with pytest.raises(SystemExit) as exit_:
        run_main(import_snippet, monkeypatch, capsys, HTTP_CLIENT, "--url", url)
    assert exit_.value.code == f"No server at {url}"


def test_an_untrusted_certificate_is_named_as_such(
    quiet_nginx, import_snippet, monkeypatch, capsys
):
    url = f"https://127.0.0.1:{quiet_nginx.values['tls_port']}/"
    with pytest.raises(SystemExit) as exit_:  # no --cafile: the system's CAs
        run_main(import_snippet, monkeypatch, capsys, HTTP_CLIENT, "--url", url)
    assert exit_.value.code.startswith(f"Untrusted certificate at {url}: ")


@pytest.fixture
def smtp_server(start_server, local_certificates, tmp_path):
    """smtp_server.py, this site's own, saving what it gets in tmp_path/mailbox."""
    certificates = local_certificates
    arguments = [
        "--cert", str(certificates.cert_file), "--key", str(certificates.key_file),
        "--mailbox", str(tmp_path / "mailbox"),
    ]  # fmt: skip
    with start_server(SMTP_SERVER, *arguments) as server:
        yield server


def same_smtp(text: str) -> str:
    """All but the name the client gives in EHLO (the machine's own), and
    the case of FROM: and TO: (Python 3.13 writes them in lower case)."""
    text = re.sub(r"ehlo \S+\\r\\n", r"ehlo NAME\\r\\n", text)
    return re.sub(r"'(mail FROM|rcpt TO):", lambda m: m[0].lower(), text)


def test_smtplib_prints_the_whole_dialogue_at_debug_level_1(
    smtp_server,
    local_certificates,
    import_snippet,
    monkeypatch,
    capsys,
    request,
    tmp_path,
):
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    port = str(smtp_server.port)
    ca = str(local_certificates.ca_file)
    printed = run_main(
        import_snippet, monkeypatch, capsys, SMTP_CLIENT,
        "--port", port, "--cafile", ca,
    ).err  # fmt: skip
    assert "reply: b'220 Ready to start TLS\\r\\n'" in printed
    assert "reply: b'235 2.7.0 Authentication successful\\r\\n'" in printed
    assert "Hello from smtp_debug.py" in printed  # the message itself
    # The login, in base64 that anyone can decode: the page warns about it.
    assert "send: 'AUTH PLAIN AGFkYQBjb3JyZWN0IGhvcnNl" in printed
    assert len(list((tmp_path / "mailbox").glob("*.eml"))) == 1
    command = (
        "SMTP_PASSWORD='correct horse battery staple' \\\n"
        "    python3 smtp_debug.py --cafile certs/ca.pem"
    )
    transcript = replace_numbers(f"$ {command}\n{printed}", {port: SMTP_PORT})
    check_transcript(request, PAGE, "smtplib-debug", transcript, same_smtp)


@pytest.mark.interop(SMTP_CLIENT, "exim4", "the dialogue with STARTTLS and AUTH")
def test_smtplib_debug_output_with_exim(
    exim_server, local_certificates, import_snippet, monkeypatch, capsys
):
    monkeypatch.setenv("SMTP_PASSWORD", exim_server.values["password"])
    printed = run_main(
        import_snippet, monkeypatch, capsys, SMTP_CLIENT,
        "--port", str(exim_server.port), "--cafile", str(local_certificates.ca_file),
        "--user", exim_server.values["user"], "--to", "grace@example.org",
    ).err  # fmt: skip
    assert "reply: b'250-mail.example.org Hello [127.0.0.1]" in printed
    assert "reply: retcode (235)" in printed  # logged in
    assert re.search(r"reply: retcode \(250\); Msg: b'OK id=", printed)


@pytest.mark.interop(REQUESTS_LOG, "nginx", "urllib3's log: a new connection, reused")
def test_urllib3_logs_its_connections(
    quiet_nginx, fresh_logging, import_snippet, monkeypatch, capsys, request
):
    port = str(quiet_nginx.port)
    url = f"http://127.0.0.1:{port}/"
    fresh_logging()
    output = logged_and_printed(
        run_main(import_snippet, monkeypatch, capsys, REQUESTS_LOG, "--url", url)
    )
    assert output.count("Starting new HTTP connection (1)") == 1  # then reused
    assert output.count('"GET / HTTP/1.1" 200 17') == 2
    shown = url.replace(port, NGINX_PORT)
    transcript = replace_numbers(
        f"$ python3 requests_logging.py --url {shown}\n{output}", {port: NGINX_PORT}
    )
    check_transcript(request, PAGE, "urllib3-log", transcript)


@pytest.mark.interop(AIOHTTP_TRACE, "nginx", "each step of two requests, traced")
def test_aiohttp_tracing_shows_each_step(
    quiet_nginx, import_snippet, monkeypatch, capsys, request
):
    port = str(quiet_nginx.port)
    url = f"http://127.0.0.1:{port}/"
    printed = run_main(
        import_snippet, monkeypatch, capsys, AIOHTTP_TRACE, "--url", url
    ).out
    assert printed.count("a new connection") == 1
    assert printed.count("an open connection, reused") == 1
    shown = url.replace(port, NGINX_PORT)
    transcript = replace_numbers(
        f"$ python3 aiohttp_tracing.py --url {shown}\n{printed}", {port: NGINX_PORT}
    )
    check_transcript(request, PAGE, "aiohttp-trace", transcript)


def same_websockets(text: str) -> str:
    """All but the random key, its answer, the versions in User-Agent, and
    the ends of the TCP streams (websockets 16, for Python 3.10, logs the
    server's EOF too)."""
    text = re.sub(r"(Sec-WebSocket-(?:Key|Accept)): \S+", r"\1: (random)", text)
    text = re.sub(r"User-Agent: .*", "User-Agent: (versions)", text)
    return re.sub(r"^[<>] EOF\n", "", text, flags=re.MULTILINE)


@pytest.mark.interop(WEBSOCKETS_LOG, "websocketd", "the handshake and frames, logged")
def test_websockets_logs_every_frame(
    websocketd_echo, fresh_logging, import_snippet, monkeypatch, capsys, request
):
    port = str(websocketd_echo.port)
    url = f"ws://127.0.0.1:{port}/"
    fresh_logging()
    output = logged_and_printed(
        run_main(import_snippet, monkeypatch, capsys, WEBSOCKETS_LOG, "--url", url)
    )
    assert "> TEXT 'Hello' [5 bytes]" in output
    assert "< TEXT 'Hello' [5 bytes]" in output
    assert output.endswith("Hello\n")
    shown = url.replace(port, WEBSOCKET_PORT)
    transcript = replace_numbers(
        f"$ python3 websockets_logging.py --url {shown}\n{output}",
        {port: WEBSOCKET_PORT},
    )
    check_transcript(request, PAGE, "websockets-log", transcript, same_websockets)


@pytest.mark.parametrize("program", [HTTP_CLIENT, REQUESTS_LOG, AIOHTTP_TRACE])
def test_the_http_clients_work_over_ipv6(
    program, quiet_nginx, fresh_logging, import_snippet, monkeypatch, capsys
):
    url = f"http://[::1]:{quiet_nginx.port}/"
    fresh_logging()
    output = run_main(import_snippet, monkeypatch, capsys, program, "--url", url)
    assert output.out.endswith("Hello from nginx\n")


def test_smtplib_over_ipv6(
    exim_server, local_certificates, import_snippet, monkeypatch, capsys
):
    monkeypatch.setenv("SMTP_PASSWORD", exim_server.values["password"])
    printed = run_main(
        import_snippet, monkeypatch, capsys, SMTP_CLIENT,
        "--host", "::1", "--port", str(exim_server.port),
        "--cafile", str(local_certificates.ca_file),
    ).err  # fmt: skip
    assert "reply: retcode (235)" in printed
    assert "send: 'QUIT\\r\\n'" in printed
