"""Tests of "Testing network code" (docs/guides/testing-network-code.md).

The page's tests are a reader's: snippets/testing_network_code/ holds a
client, its tests, their conftest.py and pytest.ini. These tests run that
folder as the reader would (`python3 -m pytest`, with only the plugins the
page tells them to install), check that it passes, and that it fails when
the client is broken. The clients also run as programs, against nginx.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from debugging_tools.transcripts import DOCS, check_transcript, replace_numbers

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "snippets" / "testing_network_code"
PAGE = DOCS / "guides" / "testing-network-code.md"
CLIENT = "testing_network_code/json_client.py"
ASYNC_CLIENT = "testing_network_code/async_json_client.py"
# What the page tells a reader to install, and so all that the tests load.
READER_PLUGINS = ("pytest-asyncio", "pytest-socket", "pytest-timeout")
PAGE_PORT = "8000"  # where the page's http.server listens


def readers_pytest(folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    """`python3 -m pytest ARGUMENTS` in the folder, as a reader runs it.

    Every plugin installed here but not on the reader's list is switched off
    (this project's own: xdist, randomly, cov...), and nothing is written in
    the folder (no .pytest_cache, no __pycache__).
    """
    others = [
        f"-pno:{entry.name}"
        for entry in entry_points(group="pytest11")
        if entry.dist.name not in READER_PLUGINS
    ]
    return subprocess.run(  # noqa: S603 (pytest, on our own snippets)
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *others,
         *arguments],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "80"},
    )  # fmt: skip


def same_summary(text: str) -> str:
    """pytest's output without its timing, and without its padding."""
    text = re.sub(r" in \d+\.\d+s", " in N s", text)
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def test_the_readers_tests_pass_with_only_their_plugins(request):
    result = readers_pytest(FOLDER, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    # Every test passed: none skipped, none with a warning.
    assert re.fullmatch(r"\d+ passed in \d+\.\d+s", summary), result.stdout
    check_transcript(
        request, PAGE, "pytest-run", f"$ python3 -m pytest -q\n{result.stdout}",
        same_summary,
    )  # fmt: skip


BROKEN = {
    # A client that takes any answer for JSON of its own...
    "    if response.status != 200:": "    if False:",
    # ...and lets a reset through as an exception of the socket's.
    "    except ConnectionResetError:\n": "    except ConnectionAbortedError:\n",
}


def test_the_readers_tests_fail_on_a_broken_client(tmp_path):
    copy = tmp_path / "broken"
    shutil.copytree(FOLDER, copy, ignore=shutil.ignore_patterns("__pycache__"))
    client = copy / "json_client.py"
    source = client.read_text(encoding="utf-8")
    for good, bad in BROKEN.items():
        assert source.count(good) == 1, f"json_client.py no longer has {good!r}"
        source = source.replace(good, bad)
    client.write_text(source, encoding="utf-8")
    # The two tests that must fail, and their neighbours that must not.
    chosen = "missing_page or reset or in_a_thread"
    result = readers_pytest(copy, "-q", "test_json_client.py", "-k", chosen)
    named = r"^FAILED test_json_client\.py::(\w+(?:\[[^\]]*\])?)"
    failed = re.findall(named, result.stdout, re.MULTILINE)
    assert sorted(failed) == [
        "test_a_misbehaving_server_gets_a_one_line_error[reset-reset the connection]",
        "test_names_the_status_of_a_missing_page",
    ], result.stdout
    assert re.search(r"^2 failed, 1 passed", result.stdout, re.MULTILINE)
    assert result.returncode == 1


@pytest.mark.site  # tomllib: Python 3.11+, like the site's build
def test_the_page_installs_the_versions_the_tests_ran():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pinned = {}
    for requirement in [
        *project["project"]["dependencies"],
        *project["dependency-groups"]["test"],
    ]:
        if (match := re.match(r"([\w-]+)==([\w.]+)\s*(?:;(.*))?$", requirement)) and (
            "< '3.11'" not in (match[3] or "")
        ):
            pinned[match[1].lower()] = match[2]
    page = PAGE.read_text(encoding="utf-8")
    ini = (FOLDER / "pytest.ini").read_text(encoding="utf-8")
    for text in (page, ini):
        installs = re.findall(r"\b(pytest[\w-]*|aiohttp)==([\w.]+)", text)
        assert installs, "the page says what to install, with versions"
        assert {name: pinned[name] for name, _ in installs} == dict(installs)


@pytest.fixture
def http_server(tmp_path):
    """python3 -m http.server, as the page runs it, serving hello.json."""
    (tmp_path / "hello.json").write_text('{"greeting": "Hello"}\n')
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        port = re.search(r" port (\d+) ", server.stdout.readline())
        assert port, "http.server did not start"
        yield int(port[1])
    finally:
        server.terminate()
        server.communicate(timeout=10)


def run_main(import_snippet, monkeypatch, capsys, relative: str, *arguments):
    module = import_snippet(relative)
    monkeypatch.setattr(sys, "argv", [Path(relative).name, *arguments])
    module.main()
    return capsys.readouterr().out


def test_the_client_prints_the_json_of_http_server(
    http_server, import_snippet, monkeypatch, capsys, request
):
    port = str(http_server)
    printed = run_main(
        import_snippet, monkeypatch, capsys, CLIENT,
        "--port", port, "--path", "/hello.json",
    )  # fmt: skip
    assert printed == '{\n  "greeting": "Hello"\n}\n'
    commands = (
        '$ echo \'{"greeting": "Hello"}\' > hello.json\n'
        f"$ python3 -m http.server {PAGE_PORT} --bind 127.0.0.1 &\n"
        f"$ python3 json_client.py --port {PAGE_PORT} --path /hello.json\n"
    )
    transcript = replace_numbers(commands + printed, {port: PAGE_PORT})
    check_transcript(request, PAGE, "json-client-run", transcript)


@pytest.mark.interop(CLIENT, "nginx", "JSON, then a 404 and a 403, one line each")
def test_the_client_against_nginx(nginx_static, import_snippet, monkeypatch, capsys):
    port = str(nginx_static.port)
    printed = run_main(
        import_snippet, monkeypatch, capsys, CLIENT, "--port", port, "--path", "/json"
    )
    assert printed == '{\n  "server": "nginx",\n  "path": "/json"\n}\n'
    for path, message in [
        ("/status/404", "answered 404 Not Found"),
        ("/", "answered 403 Forbidden"),  # an empty folder, without an index
    ]:
        with pytest.raises(SystemExit) as exit_:
            run_main(
                import_snippet, monkeypatch, capsys, CLIENT,
                "--port", port, "--path", path,
            )  # fmt: skip
        assert exit_.value.code == f"127.0.0.1:{port} {message}"


@pytest.mark.interop(ASYNC_CLIENT, "nginx", "JSON over IPv6, then a 404 in one line")
def test_the_async_client_against_nginx(
    nginx_static, import_snippet, monkeypatch, capsys
):
    url = f"http://[::1]:{nginx_static.port}/json"
    printed = run_main(import_snippet, monkeypatch, capsys, ASYNC_CLIENT, "--url", url)
    assert printed == '{\n  "server": "nginx",\n  "path": "/json"\n}\n'
    missing = url.replace("/json", "/status/404")
    with pytest.raises(SystemExit) as exit_:
        run_main(import_snippet, monkeypatch, capsys, ASYNC_CLIENT, "--url", missing)
    assert exit_.value.code == f"{missing} answered 404 Not Found"


def test_the_client_over_ipv6_and_its_one_line_failure(
    nginx_static, free_port, import_snippet, monkeypatch, capsys
):
    port = str(nginx_static.port)
    printed = run_main(
        import_snippet, monkeypatch, capsys, CLIENT,
        "--host", "::1", "--port", port, "--path", "/json",
    )  # fmt: skip
    assert '"server": "nginx"' in printed
    with pytest.raises(SystemExit) as exit_:
        run_main(import_snippet, monkeypatch, capsys, CLIENT, "--port", str(free_port))
    assert exit_.value.code == f"No server at 127.0.0.1:{free_port}"
