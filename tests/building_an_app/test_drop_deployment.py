"""drop_server.py behind nginx (drop_nginx.conf, run as the page shows it),
a restart under load that loses no upload, and real clients of the server:
socat, openssl s_client, curl, nginx."""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from drop_protocol import (
    HEADER_SIZE,
    NAMES,
    STORED,
    encode,
    list_request,
    parse_header,
    put_request,
    sha256,
)
from peers.daemons import free_port, run_client, run_daemon
from peers.programs import require
from websockets.sync.client import connect

from .conftest import SNIPPETS, TIMEOUT, drop_server_running

SERVER = "building_an_app/drop_server.py"
CLIENT = "building_an_app/drop_client.py"
ASYNC_CLIENT = "building_an_app/drop_async_client.py"
CONFIG = SNIPPETS / "drop_nginx.conf"
STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")
# The ports the page's configuration names, and what each becomes here.
DROP_PORT, WS_PORT, NGINX_DROP_PORT, NGINX_HTTPS_PORT = 8790, 8791, 8792, 8793


def render(ports: dict[int, int]) -> str:
    """drop_nginx.conf as the page shows it, its ports swapped for free ones."""
    text = CONFIG.read_text(encoding="utf-8")
    for page_port, test_port in ports.items():
        assert f":{page_port}" in text, page_port
        text = text.replace(f":{page_port}", f":{test_port}")
    return text


@contextmanager
def nginx_in_front(
    folder: Path, drop_port: int, ws_port: int, certificates, https_port: int
):
    """nginx with drop_nginx.conf, run as the page says, on free ports."""
    nginx = require("nginx")
    if not STREAM_MODULE.is_file():
        pytest.fail(
            "nginx's stream module is not installed: `apt-get install "
            "libnginx-mod-stream` (tools/install-peers installs it)",
            pytrace=False,
        )
    (folder / "certs").mkdir()
    shutil.copy(certificates.cert_file, folder / "certs" / "server.pem")
    shutil.copy(certificates.key_file, folder / "certs" / "server-key.pem")

    def command(port: int) -> list:
        ports = {DROP_PORT: drop_port, WS_PORT: ws_port,
                 NGINX_DROP_PORT: port, NGINX_HTTPS_PORT: https_port}  # fmt: skip
        (folder / "drop_nginx.conf").write_text(render(ports))
        # The page's command line, in this folder.
        config = folder / "drop_nginx.conf"
        return [nginx, "-p", folder, "-c", config, "-e", "stderr"]

    with run_daemon("nginx", folder, command) as daemon:
        daemon.values["https"] = f"127.0.0.1:{https_port}"
        yield daemon


@pytest.fixture(scope="module")
def behind_nginx(start_server, tmp_path_factory, local_certificates):
    """drop_server.py, and nginx in front of it."""
    folder = tmp_path_factory.mktemp("nginx")
    https_port = free_port()  # nginx's, chosen first: the server must know it
    public = f"127.0.0.1:{https_port}"
    with drop_server_running(
        start_server, folder / "stored", "--allow-host", public, ws=True
    ) as server:
        ws_port = int(server.ws_url.rstrip("/").rpartition(":")[2])
        with nginx_in_front(
            folder, server.port, ws_port, local_certificates, https_port
        ) as nginx:
            yield server, nginx


@pytest.mark.interop(CLIENT, "nginx", "DROP over TLS through nginx's stream proxy")
@pytest.mark.interop(SERVER, "nginx", "DROP behind nginx's stream module, TLS there")
def test_the_client_speaks_tls_to_nginx(
    behind_nginx, run_example, tmp_path, local_certificates
):
    server, nginx = behind_nginx
    hello = tmp_path / "hello.txt"
    hello.write_bytes(b"Hello, DROP!")
    run_example(
        CLIENT, "put", str(hello), "--port", str(nginx.port),
        "--ca-file", str(local_certificates.ca_file),
    )  # fmt: skip
    assert (server.folder / "hello.txt").read_bytes() == b"Hello, DROP!"


@pytest.mark.interop(CLIENT, "nginx", "an HTTP server's answer named as not DROP")
def test_the_client_names_an_http_server(
    behind_nginx, import_snippet, monkeypatch, capsys, local_certificates
):
    import sys

    _, nginx = behind_nginx
    https_port = nginx.values["https"].rpartition(":")[2]
    client = import_snippet(CLIENT)
    monkeypatch.setattr(sys, "argv", [
        "drop_client.py", "list", "--port", https_port,
        "--ca-file", str(local_certificates.ca_file),
    ])  # fmt: skip
    with pytest.raises(SystemExit) as exit:
        client.main()
    assert str(exit.value.code) == (
        f"127.0.0.1:{https_port} does not speak DROP 1: not a DROP frame: b'HTTP/1.1'"
    )


@pytest.mark.interop(SERVER, "nginx", "WebSocket through nginx, TLS ended there")
def test_the_websocket_works_through_nginx(behind_nginx, local_certificates):
    _, nginx = behind_nginx
    context = ssl.create_default_context(cafile=local_certificates.ca_file)
    public = nginx.values["https"]
    with connect(
        f"wss://{public}/drop", ssl=context, origin=f"https://{public}",
        open_timeout=TIMEOUT,
    ) as ws:  # fmt: skip
        ws.send(list_request())
        reply = ws.recv(timeout=TIMEOUT)
    assert parse_header(reply[:HEADER_SIZE], 1024).kind == NAMES


@pytest.mark.interop(SERVER, "curl", "the browser page over HTTPS through nginx")
def test_curl_fetches_the_page_through_nginx(behind_nginx, local_certificates):
    _, nginx = behind_nginx
    curl = require("curl")
    result = run_client([
        curl, "--silent", "--show-error", "--fail", "--include",
        "--cacert", local_certificates.ca_file,
        f"https://{nginx.values['https']}/",
    ])  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "content-security-policy: default-src 'self'" in result.stdout.lower()
    assert result.stdout.endswith((SNIPPETS / "drop.html").read_text())


@pytest.mark.interop(SERVER, "socat", "a PUT frame piped through socat is stored")
def test_socat_stores_a_file(shared_drop):
    socat = require("socat")
    request = put_request("from-socat.txt", b"piped")
    result = run_client(
        [socat, "-t", "5", "-", f"TCP:127.0.0.1:{shared_drop.port}"], input=request
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == encode(STORED, sha256(b"piped"))


@pytest.mark.interop(SERVER, "openssl", "DROP over TLS from openssl s_client")
def test_openssl_s_client_stores_a_file_over_tls(tls_drop, local_certificates):
    openssl = require("openssl")
    result = run_client(
        [openssl, "s_client", "-quiet", "-verify_return_error",
         "-CAfile", local_certificates.ca_file, "-verify_ip", "127.0.0.1",
         "-connect", f"127.0.0.1:{tls_drop.port}"],
        input=put_request("from-openssl.txt", b"over TLS"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == encode(STORED, sha256(b"over TLS"))
    assert (tls_drop.folder / "from-openssl.txt").read_bytes() == b"over TLS"


# --- A restart under load ----------------------------------------------------------


@pytest.mark.interop(ASYNC_CLIENT, "nginx", "a restart behind nginx loses no upload")
def test_a_restart_under_load_loses_no_upload(
    start_server, tmp_path, local_certificates, import_snippet
):
    client = import_snippet(ASYNC_CLIENT)
    files = [(f"file-{n:03}.bin", os.urandom(2000)) for n in range(40)]
    context = ssl.create_default_context(cafile=local_certificates.ca_file)
    port = free_port()  # the upstream port nginx knows: both servers use it
    stored = tmp_path / "stored"
    options = ("--port", str(port), "--max-files", "1000", "--max-bytes", "10000000")
    with (
        nginx_in_front(
            tmp_path, port, free_port(), local_certificates, free_port()
        ) as nginx,
        drop_server_running(start_server, stored, *options) as first,
        ThreadPoolExecutor(1) as pool,
    ):
        upload_all = client.put_many(files, "127.0.0.1", nginx.port, context=context)
        load = pool.submit(asyncio.run, upload_all)
        for _ in range(10):  # under load: 10 files stored, 30 to go
            first.wait_for("stored")
        first.running.process.terminate()  # SIGTERM: drain, then exit
        assert first.running.process.wait(timeout=10) == 0
        first.wait_for("Drained")
        with drop_server_running(start_server, stored, *options) as second:
            lines = load.result(timeout=30)
            second.wait_for("stored")  # the new server took over
    assert [line for line in lines if not line.startswith("Stored ")] == []
    for name, content in files:
        assert (stored / name).read_bytes() == content
