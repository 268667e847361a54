"""Tests of the page "requests: the basics" (docs/http/requests_basics.md)."""

import pytest
import requests

CLIENT = "http_examples/requests_basics.py"


def test_client_prints_what_the_server_received(api_url, run_example):
    run_example(CLIENT, "--url", api_url)


def test_query_parameters_arrive_decoded(api_url, import_snippet):
    client = import_snippet(CLIENT)
    awkward = "a&b=c ü/?#"
    response = client.search(api_url, awkward, page=3)
    assert response.json()["args"] == {"q": awkward, "page": "3"}


def test_form_and_json_bodies_are_sent_with_their_content_types(
    api_url, import_snippet
):
    client = import_snippet(CLIENT)
    received = client.send_form(api_url, {"a": "1 & 2", "b": "ü"})
    assert received["form"] == {"a": "1 & 2", "b": "ü"}
    response = client.create_note(api_url, "café", ["x"])
    assert response.request.headers["Content-Type"] == "application/json"
    assert response.status_code == 201


def test_created_note_is_where_location_says(api_url, import_snippet):
    client = import_snippet(CLIENT)
    response = client.create_note(api_url, "find me", ["test"])
    note = response.json()
    assert response.headers["Location"] == f"/notes/{note['id']}"
    located = requests.get(api_url + response.headers["Location"], timeout=5)
    assert located.json() == note == client.get_note(api_url, note["id"])


def test_an_invalid_note_is_refused_with_422(api_url, import_snippet):
    client = import_snippet(CLIENT)
    with pytest.raises(requests.HTTPError) as error:
        client.create_note(api_url, "", ["empty text"])
    assert error.value.response.status_code == 422
    assert "text" in error.value.response.json()["error"]


CALLS = {
    "search": lambda client, url: client.search(url, "q", 1),
    "send_form": lambda client, url: client.send_form(url, {"a": "b"}),
    "create_note": lambda client, url: client.create_note(url, "t", []),
    "get_note": lambda client, url: client.get_note(url, 1),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_each_call_times_out_on_a_silent_server(
    import_snippet, silent_server, monkeypatch, call
):
    client = import_snippet(CLIENT)
    monkeypatch.setattr(client, "TIMEOUT", (1, 0.05))
    host, port = silent_server
    with pytest.raises(requests.ReadTimeout):
        call(client, f"http://{host}:{port}")


def test_client_program_says_what_to_do_when_no_server(run_example, free_port):
    url = f"http://127.0.0.1:{free_port}"
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--url", url)
    assert exit_info.value.code == f"{url}: connection refused: start api_server.py"
