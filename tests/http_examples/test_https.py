"""Tests of the page "HTTPS with a local CA" (docs/http/https.md).

The server runs with a certificate from make_local_ca.py, as a reader's does.
"""

import importlib.util
import re
import socket
import ssl
import stat
from pathlib import Path

import pytest
import requests

SNIPPETS = Path(__file__).resolve().parents[2] / "snippets"
API_SERVER = "http_examples/api_server.py"
MAKE_CA = "http_examples/make_local_ca.py"
CLIENT = "http_examples/https_client.py"


@pytest.fixture(scope="module")
def reader_certificates(tmp_path_factory):
    """What `python3 make_local_ca.py --folder certs` writes."""
    spec = importlib.util.spec_from_file_location("make_local_ca", SNIPPETS / MAKE_CA)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def https_server(start_server, reader_certificates):
    _, cert_file, key_file = reader_certificates
    with start_server(
        API_SERVER, "--cert", str(cert_file), "--key", str(key_file)
    ) as server:
        yield server


@pytest.fixture(scope="module")
def https_url(https_server):
    return f"https://{https_server.host}:{https_server.port}"


def test_make_local_ca_writes_the_three_files(run_example, tmp_path):
    run_example(MAKE_CA, "--folder", str(tmp_path / "certs"))
    key_mode = stat.S_IMODE((tmp_path / "certs" / "server-key.pem").stat().st_mode)
    assert key_mode == 0o600
    ssl.create_default_context(cafile=tmp_path / "certs" / "ca.pem")  # a valid CA


def test_client_refuses_then_trusts_the_server_with_the_local_ca(
    https_url, reader_certificates, run_example
):
    ca_file = reader_certificates[0]
    run_example(CLIENT, "--url", f"{https_url}/", "--ca-file", str(ca_file))


def test_the_full_message_has_the_shape_the_page_shows(https_url, import_snippet):
    client = import_snippet(CLIENT)
    with pytest.raises(requests.exceptions.SSLError) as error:
        client.get_json(https_url)
    assert re.fullmatch(
        r"HTTPSConnectionPool\(host='127\.0\.0\.1', port=\d+\): Max retries exceeded"
        r" with url: / \(Caused by SSLError\(SSLCertVerificationError\(1, '\[SSL:"
        r" CERTIFICATE_VERIFY_FAILED\] certificate verify failed: unable to get local"
        r" issuer certificate \(_ssl\.c:\d+\)'\)\)\)",
        str(error.value),
    )
    assert isinstance(error.value, requests.ConnectionError)


def test_another_ca_is_not_trusted(https_url, import_snippet, local_certificates):
    # The CA of the tests' fixture did not sign the server's certificate.
    client = import_snippet(CLIENT)
    with pytest.raises(requests.exceptions.SSLError) as error:
        client.get_json(https_url, str(local_certificates.ca_file))
    assert client.failure(error.value) == (
        "certificate not trusted: unable to get local issuer certificate"
    )


def test_without_its_ca_file_the_program_says_how_to_make_one(
    run_example, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT)
    assert exit_info.value.code == (
        "No CA file certs/ca.pem: make one with python3 make_local_ca.py --folder certs"
    )


def test_the_program_reports_a_status_and_a_body_that_is_not_json(
    api_url, run_program, reader_certificates, https_url
):
    ca_file = str(reader_certificates[0])
    _printed, exit_code = run_program(
        CLIENT, "--url", f"{https_url}/notes/0", "--ca-file", ca_file
    )
    assert exit_code == f"{https_url}/notes/0: HTTP 404 Not Found"
    _printed, exit_code = run_program(
        CLIENT, "--url", f"{https_url}/download?size=3", "--ca-file", ca_file
    )
    assert exit_code == f"{https_url}/download?size=3: the answer is not JSON"


def test_tls_to_a_plain_http_port_is_not_called_a_certificate_error(
    api_url, run_program, reader_certificates
):
    url = api_url.replace("http://", "https://") + "/"
    _printed, exit_code = run_program(
        CLIENT, "--url", url, "--ca-file", str(reader_certificates[0])
    )
    assert exit_code.startswith(f"{url}: SSLError: [SSL")
    assert "certificate" not in exit_code


def test_a_server_with_a_public_certificate_is_trusted_either_way(
    https_url, run_program, reader_certificates, monkeypatch
):
    # What a public CA's certificate would do: trusted with or without ours.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(reader_certificates[0]))
    printed, exit_code = run_program(
        CLIENT, "--url", f"{https_url}/", "--ca-file", str(reader_certificates[0])
    )
    assert (printed, exit_code) == (
        "Without the local CA:\ntrusted: a public CA signed its certificate\n"
        "{'message': 'Hello, HTTP!'}\n",
        None,
    )


def test_plain_http_to_the_https_port_fails_and_the_server_goes_on(
    https_server, https_url, reader_certificates, import_snippet
):
    client = import_snippet(CLIENT)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{https_server.host}:{https_server.port}/", timeout=5)
    # A client that connects and leaves before the TLS handshake.
    socket.create_connection((https_server.host, https_server.port), timeout=5).close()
    ca_file = str(reader_certificates[0])
    assert client.get_json(https_url, ca_file) == {"message": "Hello, HTTP!"}


def test_silent_server_makes_the_client_time_out(
    import_snippet, silent_server, monkeypatch, reader_certificates
):
    client = import_snippet(CLIENT)
    monkeypatch.setattr(client, "TIMEOUT", (0.1, 0.05))
    host, port = silent_server
    with pytest.raises(requests.Timeout):
        client.get_json(f"https://{host}:{port}", str(reader_certificates[0]))


def test_client_program_says_what_to_do_when_no_server(
    run_example, free_port, reader_certificates
):
    url = f"https://127.0.0.1:{free_port}/"
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--url", url, "--ca-file", str(reader_certificates[0]))
    assert exit_info.value.code == (
        f"{url}: connection refused: start api_server.py with --cert"
    )
