"""Tests of the page "requests: sessions, authentication and proxies".

Every program runs against nginx with the page's own configuration
(snippets/http_examples/nginx_requests.conf), and the proxy program through
tinyproxy with the page's tinyproxy.conf: real servers, on free ports.
"""

from __future__ import annotations

import pytest
import requests
import trustme
from peers.nginx_requests import PASSWORD, TOKEN

AUTH = "http_examples/requests_auth.py"
COOKIES = "http_examples/requests_cookies.py"
REDIRECTS = "http_examples/requests_redirects.py"
PROXIES = "http_examples/requests_proxies.py"


def url(daemon, host: str = "127.0.0.1", port_name: str = "port") -> str:
    host = f"[{host}]" if ":" in host else host
    scheme = "https" if port_name == "tls_port" else "http"
    return f"{scheme}://{host}:{daemon.values[port_name]}"


@pytest.fixture
def login(monkeypatch):
    """The page's demonstration login, in the environment as the page says."""
    monkeypatch.setenv("API_PASSWORD", PASSWORD)
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.delenv("API_USER", raising=False)


# --- Authentication -----------------------------------------------------------


@pytest.mark.interop(AUTH, "nginx", "Basic (htpasswd), bearer token, redirects")
def test_auth_program_logs_in_both_ways(nginx_requests, login, run_example):
    run_example(AUTH, "--url", url(nginx_requests))


def test_the_token_is_dropped_only_because_the_host_changed(
    nginx_requests, import_snippet
):
    client = import_snippet(AUTH)
    ipv6 = url(nginx_requests, "::1")
    response = client.get_with_token(url(nginx_requests), "/bearer-elsewhere", TOKEN)
    assert (response.url, response.status_code) == (f"{ipv6}/bearer", 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="notes"'
    # Sent to [::1] directly, the same token is accepted.
    assert client.get_with_token(ipv6, "/bearer", TOKEN).json() == {"user": "ada"}
    assert client.get_with_token(ipv6, "/bearer", "wrong").status_code == 401


def test_auth_program_needs_its_credentials_in_the_environment(
    run_program, monkeypatch
):
    monkeypatch.delenv("API_PASSWORD", raising=False)
    monkeypatch.delenv("API_TOKEN", raising=False)
    assert run_program(AUTH) == (
        "",
        "Set API_PASSWORD and API_TOKEN in the environment first",
    )
    assert run_program(COOKIES) == ("", "Set API_PASSWORD in the environment first")


# --- Cookies -----------------------------------------------------------------


@pytest.mark.interop(COOKIES, "nginx", "a session cookie set, kept and sent back")
def test_cookies_program_keeps_the_session_cookie(nginx_requests, login, run_example):
    run_example(COOKIES, "--url", url(nginx_requests))


def test_the_jar_sends_a_cookie_only_to_the_host_that_set_it(
    nginx_requests, import_snippet
):
    client = import_snippet(COOKIES)
    with requests.Session() as session:
        client.log_in(session, url(nginx_requests), "ada", PASSWORD)
        assert client.whoami(session, url(nginx_requests)).status_code == 200
        # [::1] is another host: the jar has no cookie for it.
        response = client.whoami(session, url(nginx_requests, "::1"))
        assert response.status_code == 401
        assert "Cookie" not in response.request.headers


def test_a_wrong_password_ends_the_cookies_program_in_one_line(
    nginx_requests, run_program, monkeypatch
):
    monkeypatch.setenv("API_PASSWORD", "not the password")
    base = url(nginx_requests)
    assert run_program(COOKIES, "--url", base) == (
        "",
        f"{base}: HTTP 401 Unauthorized for {base}/login",
    )


# --- Redirects ---------------------------------------------------------------


@pytest.mark.interop(REDIRECTS, "nginx", "301/302/303/307/308, a loop, no follow")
def test_redirects_program_shows_what_requests_follows(nginx_requests, run_example):
    run_example(REDIRECTS, "--url", url(nginx_requests))


def test_a_redirect_to_an_error_status_ends_in_one_line(nginx_http, import_snippet):
    client = import_snippet(REDIRECTS)
    base = f"http://127.0.0.1:{nginx_http.values['port']}"
    with requests.Session() as session, pytest.raises(requests.HTTPError) as error:
        client.method_after_redirect(session, base, "/status/404")
    assert client.failure(error.value) == (f"HTTP 404 Not Found for {base}/status/404")


# --- Proxies -----------------------------------------------------------------


@pytest.fixture
def through_proxy(tinyproxy, monkeypatch) -> str:
    """tinyproxy's URL; the environment names it, and bypasses nothing.

    (The tests' own guard sets NO_PROXY for loopback: undone here, on purpose.)
    """
    proxy = f"http://127.0.0.1:{tinyproxy.port}"
    # Whatever the environment held: urllib ignores HTTP_PROXY when
    # REQUEST_METHOD is set (a CGI script), and lowercase names win.
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    assert environment_proxy(f"http://127.0.0.1:{tinyproxy.port}/") == proxy
    return proxy


def environment_proxy(url: str) -> str | None:
    """The proxy requests takes from the environment for `url`."""
    scheme = url.partition(":")[0]
    return requests.utils.get_environ_proxies(url).get(scheme)


def proxy_arguments(nginx, proxy, ca_file) -> list[str]:
    return [
        "--proxy", proxy, "--url", url(nginx),
        "--https-url", url(nginx, port_name="tls_port"), "--ca-file", str(ca_file),
    ]  # fmt: skip


@pytest.mark.interop(PROXIES, "tinyproxy", "HTTP, HTTPS by CONNECT, HTTP_PROXY")
@pytest.mark.interop(PROXIES, "nginx", "the server behind the proxy, HTTP and HTTPS")
def test_proxies_program_goes_through_tinyproxy(
    nginx_requests, tinyproxy, through_proxy, local_certificates, run_example
):
    tunnels = tinyproxy.log.count("CONNECT 127.0.0.1:")
    assert environment_proxy(url(nginx_requests)) == through_proxy
    run_example(
        PROXIES,
        *proxy_arguments(nginx_requests, through_proxy, local_certificates.ca_file),
    )
    # The HTTPS request went through the proxy, in a tunnel it opened.
    tls_port = nginx_requests.values["tls_port"]
    assert f"CONNECT 127.0.0.1:{tls_port} HTTP/1." in tinyproxy.log
    assert tinyproxy.log.count("CONNECT 127.0.0.1:") == tunnels + 1


def test_no_proxy_and_https_proxy_decide_without_proxies(
    nginx_requests, tinyproxy, through_proxy, local_certificates,
    import_snippet, monkeypatch,
):  # fmt: skip
    client = import_snippet(PROXIES)
    ca_file = str(local_certificates.ca_file)
    via = f"{url(nginx_requests)}/via"
    assert environment_proxy(via) == through_proxy
    assert client.get_as_configured(via, ca_file) == {"via_header": True}
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert client.get_as_configured(via, ca_file) == {"via_header": False}
    # proxies= wins: NO_PROXY is only about the environment's proxies.
    assert client.get_through(via, through_proxy, ca_file) == {"via_header": True}
    # An https:// URL uses HTTPS_PROXY, not HTTP_PROXY: a tunnel.
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.setenv("HTTPS_PROXY", through_proxy)
    tunnels = tinyproxy.log.count("CONNECT 127.0.0.1:")
    https_via = f"{url(nginx_requests, port_name='tls_port')}/via"
    assert client.get_as_configured(https_via, ca_file) == {"via_header": False}
    assert tinyproxy.log.count("CONNECT 127.0.0.1:") == tunnels + 1


def test_verification_stays_on_through_the_proxy(
    nginx_requests, through_proxy, import_snippet, tmp_path
):
    client = import_snippet(PROXIES)
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(other_ca)
    https_via = f"{url(nginx_requests, port_name='tls_port')}/via"
    with pytest.raises(requests.exceptions.SSLError) as error:
        client.get_through(https_via, through_proxy, str(other_ca))
    assert client.failure(error.value) == (
        "certificate not trusted: unable to get local issuer certificate"
    )


def test_each_proxy_failure_takes_one_line(
    nginx_requests, through_proxy, local_certificates, run_program, free_port,
    tmp_path,
):  # fmt: skip
    ca_file = local_certificates.ca_file
    arguments = proxy_arguments(nginx_requests, through_proxy, ca_file)
    # No proxy at that port.
    no_proxy = f"http://127.0.0.1:{free_port}"
    printed, exit_code = run_program(
        PROXIES, *proxy_arguments(nginx_requests, no_proxy, ca_file)
    )
    assert (printed, exit_code) == (
        "", "no proxy there: start tinyproxy with tinyproxy.conf"
    )  # fmt: skip
    # A tunnel to a port that tinyproxy.conf does not allow.
    arguments[5] = f"https://127.0.0.1:{nginx_requests.values['port']}"
    printed, exit_code = run_program(PROXIES, *arguments)
    assert exit_code == (
        "the proxy refused: Tunnel connection failed: 403 Access violation"
    )
    # No server behind the proxy: tinyproxy answers with an error page.
    arguments[3] = f"http://127.0.0.1:{free_port}"
    printed, exit_code = run_program(PROXIES, *arguments)
    assert exit_code == (
        f"HTTP 500 Unable to connect for http://127.0.0.1:{free_port}/via"
    )
    # No CA file.
    missing = tmp_path / "ca.pem"
    printed, exit_code = run_program(PROXIES, "--ca-file", str(missing))
    assert exit_code == (
        f"No CA file {missing}: make one with python3 make_local_ca.py --folder certs"
    )


# --- Against another server, and none ------------------------------------------


@pytest.mark.parametrize("program", [AUTH, COOKIES, REDIRECTS])
@pytest.mark.parametrize("path", ["", "/other"], ids=["404-page", "other-json"])
def test_another_server_ends_each_program_in_one_line(
    program, path, nginx_http, login, run_program
):
    base = f"http://127.0.0.1:{nginx_http.values['port']}{path}"
    _printed, exit_code = run_program(program, "--url", base)
    not_json = "the answer is not JSON"
    cause = {
        (AUTH, ""): not_json,
        (COOKIES, ""): f"HTTP 404 Not Found for {base}/login",
        (REDIRECTS, ""): not_json,
        (AUTH, "/other"): "the answer has no 'www-authenticate'",
        (COOKIES, "/other"): "the answer has no 'set-cookie'",
        (REDIRECTS, "/other"): "the answer has no 'method'",
    }[program, path]
    suffix = "" if cause.startswith("HTTP") else ": is this the page's nginx?"
    assert exit_code == f"{base}: {cause}{suffix}"


@pytest.mark.parametrize("program", [AUTH, COOKIES, REDIRECTS])
def test_no_server_says_what_to_start(program, login, run_program, free_port):
    base = f"http://127.0.0.1:{free_port}"
    assert run_program(program, "--url", base) == (
        "",
        f"{base}: connection refused: start nginx with nginx_requests.conf",
    )
