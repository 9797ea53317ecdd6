"""Every fault-injection kind, seen by a real aiohttp client over 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from anythingllm_bridge.testing import EmulatorThread, RunningEmulator, run_emulator
from anythingllm_bridge.testing.faults import Fault, FaultInjector
from support import FakeClock


@dataclass
class Server:
    url: str
    faults: FaultInjector
    clock: FakeClock


@pytest.fixture
def server(emulator: RunningEmulator) -> Server:
    """The emulator fixture's server, its fault injector on a fake clock."""
    clock = FakeClock()
    emulator.emulator.faults.clock = clock
    return Server(emulator.url, emulator.emulator.faults, clock)


@pytest.fixture
async def http(emulator: RunningEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {emulator.api_key}"}) as session:
        yield session


async def new_workspace(server: Server, http: aiohttp.ClientSession, name: str) -> str:
    async with http.post(server.url + "/api/v1/workspace/new", json={"name": name}) as r:
        assert r.status == 200
        slug: str = (await r.json())["workspace"]["slug"]
        return slug


def upload_form(name: str, text: str, add_to: str | None = None) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(text.encode()), filename=name, content_type="text/plain")
    if add_to is not None:
        form.add_field("addToWorkspaces", add_to)
    return form


async def stored_titles(server: Server, http: aiohttp.ClientSession) -> list[str]:
    async with http.get(server.url + "/api/v1/documents") as r:
        folders = (await r.json())["localFiles"]["items"]
    return sorted(item["title"] for folder in folders for item in folder["items"])


async def workspace_files(server: Server, http: aiohttp.ClientSession, slug: str) -> list[str]:
    async with http.get(f"{server.url}/api/v1/workspace/{slug}") as r:
        [workspace] = (await r.json())["workspace"]
    return sorted(document["filename"] for document in workspace["documents"])


async def workspace_names(server: Server, http: aiohttp.ClientSession) -> list[str]:
    async with http.get(server.url + "/api/v1/workspaces") as r:
        return sorted(w["name"] for w in (await r.json())["workspaces"])


# ------------------------------------------------------------------ status


async def test_status_fault_answers_status_retry_after_and_json_error_for_the_next_n(
    server: Server, http: aiohttp.ClientSession
) -> None:
    server.faults.add("POST", "/api/v1/workspace/new", status=429, retry_after="2", times=2)
    for _ in range(2):
        async with http.post(server.url + "/api/v1/workspace/new", json={"name": "Reports"}) as r:
            assert r.status == 429
            assert r.headers["Retry-After"] == "2"
            assert r.content_type == "application/json"
            assert await r.json() == {"error": "Too Many Requests"}
    assert await workspace_names(server, http) == []  # the faulted requests never reached the handler
    async with http.post(server.url + "/api/v1/workspace/new", json={"name": "Reports"}) as r:
        assert r.status == 200
    assert await workspace_names(server, http) == ["Reports"]
    assert server.faults.active() == []


async def test_status_fault_with_custom_bodies(server: Server, http: aiohttp.ClientSession) -> None:
    server.faults.add(
        "GET", "/api/ping", status=502, body="<html>Bad Gateway</html>", content_type="text/html"
    )
    server.faults.add("GET", "/api/ping", status=200, body={"workspace": []})
    server.faults.add("GET", "/api/ping", status=400, body="Bad Request")
    async with http.get(server.url + "/api/ping") as r:
        assert (r.status, r.content_type, await r.text()) == (502, "text/html", "<html>Bad Gateway</html>")
        assert "Retry-After" not in r.headers
    async with http.get(server.url + "/api/ping") as r:
        assert (r.status, await r.json()) == (200, {"workspace": []})
    async with http.get(server.url + "/api/ping") as r:
        assert (r.status, r.content_type, await r.text()) == (400, "text/plain", "Bad Request")
    async with http.get(server.url + "/api/ping") as r:
        assert (r.status, await r.json()) == (200, {"online": True})


async def test_times_none_lasts_until_cleared(server: Server, http: aiohttp.ClientSession) -> None:
    server.faults.add("*", "/api/v1/*", status=503, times=None, retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    for _ in range(4):
        async with http.get(server.url + "/api/v1/workspaces") as r:
            assert r.status == 503
            assert r.headers["Retry-After"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    async with http.get(server.url + "/api/ping") as r:  # outside the glob
        assert r.status == 200
    [rule] = server.faults.active()
    assert (rule["times"], rule["hits"]) == (None, 4)
    server.faults.clear()
    async with http.get(server.url + "/api/v1/workspaces") as r:
        assert r.status == 200


async def test_method_and_path_must_match(server: Server, http: aiohttp.ClientSession) -> None:
    server.faults.add("post", "/api/v1/document/*", status=500)
    async with http.get(server.url + "/api/v1/documents") as r:  # other method, other path
        assert r.status == 200
    async with http.post(server.url + "/api/v1/workspace/new", json={"name": "Kept"}) as r:
        assert r.status == 200
    async with http.post(server.url + "/api/v1/document/upload", data=upload_form("a.txt", "text")) as r:
        assert r.status == 500
        assert await r.json() == {"error": "Internal Server Error"}
    assert await stored_titles(server, http) == []


async def test_rule_counts_are_exact_under_concurrency(server: Server, http: aiohttp.ClientSession) -> None:
    server.faults.add("GET", "/api/ping", status=503, times=37)

    async def one() -> int:
        async with http.get(server.url + "/api/ping") as r:
            await r.read()
            return r.status

    statuses = await asyncio.gather(*(one() for _ in range(150)))
    assert statuses.count(503) == 37
    assert statuses.count(200) == 113
    assert sum(1 for r in server.faults.requests if r.fault is not None) == 37


# ------------------------------------------------------------ latency


async def test_latency_delays_the_answer(server: Server, http: aiohttp.ClientSession) -> None:
    server.faults.add("GET", "/api/ping", latency=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with http.get(server.url + "/api/ping") as r:
        assert r.status == 200
        assert await r.json() == {"online": True}
    assert loop.time() - started >= 0.3
    started = loop.time()
    server.faults.add("GET", "/api/ping", latency=0.2, status=504)
    async with http.get(server.url + "/api/ping") as r:
        assert r.status == 504
    assert loop.time() - started >= 0.2


# ------------------------------------------------------------ drops


def no_server_complaints(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [rec for rec in caplog.records if rec.levelno >= logging.WARNING or rec.exc_info]


async def test_drop_before_headers_reads_the_upload_then_disconnects(
    server: Server, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.faults.add("POST", "/api/v1/document/upload", drop="before_headers")
    big = "bananas are yellow " * 150_000  # ~3 MB: the server must read it all before closing
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with http.post(server.url + "/api/v1/document/upload", data=upload_form("big.txt", big)) as r:
            await r.read()
    assert await stored_titles(server, http) == []  # the server did nothing with it
    async with http.post(server.url + "/api/v1/document/upload", data=upload_form("big.txt", big)) as r:
        assert r.status == 200
    assert await stored_titles(server, http) == ["big.txt"]
    assert no_server_complaints(caplog) == []


async def test_drop_after_headers_sends_status_and_headers_then_cuts_the_body(
    server: Server, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.faults.add("POST", "/api/v1/document/upload", drop="after_headers")
    async with http.post(server.url + "/api/v1/document/upload", data=upload_form("a.txt", "apples")) as r:
        assert r.status == 200
        assert r.content_type == "application/json"
        declared = r.content_length
        with pytest.raises(aiohttp.ClientPayloadError):
            await r.read()
    assert declared is not None
    assert declared > 2
    # the server did the work; only the answer was lost, so a retry stores the file twice
    assert await stored_titles(server, http) == ["a.txt"]
    async with http.post(server.url + "/api/v1/document/upload", data=upload_form("a.txt", "apples")) as r:
        assert (await r.json())["success"] is True
    assert await stored_titles(server, http) == ["a.txt", "a.txt"]
    assert no_server_complaints(caplog) == []


async def test_drop_after_headers_with_a_status(server: Server, http: aiohttp.ClientSession) -> None:
    server.faults.add("POST", "/api/v1/document/upload", status=500, drop="after_headers")
    async with http.post(
        server.url + "/api/v1/document/upload", data=upload_form("b.txt", "b" * 500_000)
    ) as r:
        assert r.status == 500
        with pytest.raises(aiohttp.ClientPayloadError):
            await r.read()
    assert await stored_titles(server, http) == []


async def test_drop_after_headers_on_a_stream_sends_no_event(
    server: Server, http: aiohttp.ClientSession
) -> None:
    slug = await new_workspace(server, http, "Streams")
    server.faults.add("POST", "*/stream-chat", drop="after_headers")
    async with http.post(f"{server.url}/api/v1/workspace/{slug}/stream-chat", json={"message": "hi"}) as r:
        assert r.status == 200
        assert r.content_type == "text/event-stream"
        events, error = await read_events(r)
    assert (events, type(error)) == ([], aiohttp.ClientPayloadError)


# ------------------------------------------------------------ stream cut


async def read_events(response: aiohttp.ClientResponse) -> tuple[list[dict[str, Any]], Exception | None]:
    events: list[dict[str, Any]] = []
    buffer = b""
    try:
        async for chunk in response.content.iter_any():
            buffer += chunk
            while b"\n\n" in buffer:
                frame, buffer = buffer.split(b"\n\n", 1)
                events.append(json.loads(frame.removeprefix(b"data: ")))
    except aiohttp.ClientPayloadError as exc:
        return events, exc
    return events, None


async def test_cut_stream_after_k_events(server: Server, http: aiohttp.ClientSession) -> None:
    slug = await new_workspace(server, http, "Streams")
    url = f"{server.url}/api/v1/workspace/{slug}/stream-chat"
    async with http.post(url, json={"message": "what colour are bananas?"}) as r:
        whole, error = await read_events(r)
    assert error is None
    assert whole[-1]["type"] == "finalizeResponseStream"
    assert len(whole) > 3

    server.faults.add("POST", "/api/v1/workspace/*/stream-chat", cut_stream_after=3)
    async with http.post(url, json={"message": "what colour are bananas?"}) as r:
        assert r.status == 200
        events, error = await read_events(r)
    assert [e["textResponse"] for e in events] == [e["textResponse"] for e in whole[:3]]
    assert isinstance(error, aiohttp.ClientPayloadError)


async def test_cut_openai_stream(server: Server, http: aiohttp.ClientSession) -> None:
    slug = await new_workspace(server, http, "Streams")
    server.faults.add("POST", "/api/v1/openai/chat/completions", cut_stream_after=1)
    body = {"model": slug, "stream": True, "messages": [{"role": "user", "content": "hello"}]}
    async with http.post(server.url + "/api/v1/openai/chat/completions", json=body) as r:
        events, error = await read_events(r)
    assert (len(events), type(error)) == (1, aiohttp.ClientPayloadError)


# ------------------------------------------------------------ outage


async def test_outage_answers_503_for_the_window_then_recovers(
    server: Server, http: aiohttp.ClientSession
) -> None:
    server.faults.outage(30)
    for path in ("/api/ping", "/api/v1/workspaces", "/api/no-such-route"):
        async with http.get(server.url + path) as r:
            assert r.status == 503
            assert await r.json() == {"error": "Service Unavailable"}
    async with http.get(server.url + "/") as r:  # only the API is down
        assert r.status == 200
    async with http.get(server.url + "/_emulator/faults") as r:  # the control endpoints stay up
        assert r.status == 200
        [outage] = (await r.json())["faults"]
    assert outage["kind"] == "outage"
    assert outage["remaining_seconds"] == 30
    server.clock.now += 29.9
    async with http.get(server.url + "/api/ping") as r:
        assert r.status == 503
    server.clock.now += 0.1
    async with http.get(server.url + "/api/ping") as r:
        assert r.status == 200
    assert server.faults.active() == []


async def test_outage_takes_precedence_over_rules_and_does_not_consume_them(
    server: Server, http: aiohttp.ClientSession
) -> None:
    rule = server.faults.add("GET", "/api/ping", status=418)
    server.faults.outage(5)
    async with http.get(server.url + "/api/ping") as r:
        assert r.status == 503
    server.faults.outage(0)
    async with http.get(server.url + "/api/ping") as r:
        assert r.status == 418
    assert [r.fault for r in server.faults.requests] == ["outage", rule]


# ------------------------------------------------------------ embedding loss


async def test_lost_embedding_answers_200_but_the_workspace_lacks_the_document(
    server: Server, http: aiohttp.ClientSession
) -> None:
    slug = await new_workspace(server, http, "Library")
    server.faults.lose_embeddings(next_n=1)
    locations = []
    for name in ("lost.txt", "kept.txt"):
        async with http.post(server.url + "/api/v1/document/upload", data=upload_form(name, name, slug)) as r:
            assert r.status == 200
            answer = await r.json()
        assert answer["success"] is True
        locations.append(answer["documents"][0]["location"])
    assert await stored_titles(server, http) == ["kept.txt", "lost.txt"]  # both stored ...
    assert await workspace_files(server, http, slug) == [locations[1].split("/")[-1]]  # ... one embedded
    assert server.faults.embeddings_lost == 1


async def test_uploads_without_add_to_workspaces_are_not_counted(
    server: Server, http: aiohttp.ClientSession
) -> None:
    slug = await new_workspace(server, http, "Library")
    server.faults.lose_embeddings(next_n=1)
    async with http.post(server.url + "/api/v1/document/upload", data=upload_form("plain.txt", "x")) as r:
        assert r.status == 200
    async with http.post(server.url + "/api/v1/document/upload", data=upload_form("c.txt", "c", slug)) as r:
        assert r.status == 200
    assert await workspace_files(server, http, slug) == []


async def test_a_fraction_of_uploads_lose_their_embedding_the_same_way_each_run() -> None:
    async def run(seed: int) -> list[str]:
        auth = {"Authorization": "Bearer KEY"}
        async with run_emulator(api_key="KEY") as running, aiohttp.ClientSession(headers=auth) as http:
            server = Server(running.url, running.emulator.faults, FakeClock())
            slug = await new_workspace(server, http, "Library")
            server.faults.lose_embeddings(fraction=0.3, seed=seed)
            for n in range(30):
                form = upload_form(f"doc-{n:02}.txt", f"document number {n}", slug)
                async with http.post(server.url + "/api/v1/document/upload", data=form) as r:
                    assert r.status == 200
            embedded = await workspace_files(server, http, slug)
            assert len(embedded) == 30 - server.faults.embeddings_lost
            return [name.split(".txt")[0] for name in embedded]

    first = await run(11)
    assert 0 < len(first) < 30
    assert await run(11) == first


def test_lose_next_n_embeddings() -> None:
    faults = FaultInjector()
    assert faults.embedding_loss.take() is False
    faults.lose_embeddings(next_n=2)
    assert [faults.embedding_loss.take() for _ in range(4)] == [True, True, False, False]
    assert faults.embeddings_lost == 2
    assert faults.active() == []


def test_lose_a_fraction_of_embeddings_deterministically() -> None:
    def draws(seed: int, fraction: float) -> list[bool]:
        faults = FaultInjector()
        faults.lose_embeddings(fraction=fraction, seed=seed)
        return [faults.embedding_loss.take() for _ in range(400)]

    first = draws(7, 0.25)
    assert draws(7, 0.25) == first  # same seed, same uploads lost
    assert draws(8, 0.25) != first
    assert 50 < sum(first) < 150
    assert not any(draws(7, 0.0))
    assert all(draws(7, 1.0))


def test_embedding_loss_is_listed_and_cleared() -> None:
    faults = FaultInjector()
    faults.lose_embeddings(fraction=0.5, seed=3)
    assert faults.active() == [
        {
            "id": "embedding-loss",
            "kind": "embedding_loss",
            "fraction": 0.5,
            "next_n": None,
            "seed": 3,
            "update_embeddings": False,
        }
    ]
    faults.clear()
    assert not any(faults.embedding_loss.take() for _ in range(50))


# ------------------------------------------------------------ list, remove, clear


async def test_list_remove_and_clear(server: Server) -> None:
    faults = server.faults
    a = faults.add("GET", "/api/ping", status=500, times=3)
    b = faults.add("delete", "/api/v1/workspace/*", latency=1.5, times=None)
    faults.outage(10)
    listed = faults.active()
    assert [f["id"] for f in listed] == [a, b, "outage"]
    assert listed[0] == {
        "id": a,
        "kind": "rule",
        "method": "GET",
        "path": "/api/ping",
        "status": 500,
        "times": 3,
        "retry_after": None,
        "body": None,
        "content_type": None,
        "latency": 0.0,
        "drop": None,
        "cut_stream_after": None,
        "probability": 1.0,
        "seed": 1,  # the rule's number: each rule draws from its own sequence
        "hits": 0,
    }
    assert listed[1]["method"] == "DELETE"
    assert faults.remove(a) is True
    assert faults.remove(a) is False
    assert [f["id"] for f in faults.active()] == [b, "outage"]
    faults.clear()
    assert faults.active() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "at least one of status, latency, drop or cut_stream_after"),
        ({"status": 99}, "^status: Input should be greater than or equal to 200, got 99$"),
        ({"status": 600}, "^status: Input should be less than or equal to 599, got 600$"),
        ({"status": "500"}, "^status: Input should be a valid integer, got '500'$"),
        ({"status": True}, "^status: Input should be a valid integer, got True$"),
        ({"status": 500, "times": 0}, "^times: Input should be greater than or equal to 1, got 0$"),
        ({"latency": -1}, "^latency: Input should be greater than or equal to 0, got -1$"),
        ({"latency": float("inf")}, "^latency: Input should be a finite number, got inf$"),
        (
            {"drop": "sometimes"},
            "^drop: Input should be 'before_headers' or 'after_headers', got 'sometimes'$",
        ),
        ({"drop": "before_headers", "status": 500}, "status and body cannot be given"),
        ({"cut_stream_after": -1}, "^cut_stream_after: Input should be greater than or equal to 0, got -1$"),
        ({"cut_stream_after": 2, "status": 500}, "cannot be combined with status or drop"),
        ({"retry_after": "2", "latency": 1}, "give status"),
        (
            {"status": 500, "body": 3},
            "^body: Input should be a valid string or a valid bytes or a valid dictionary",
        ),
        ({"status": 500, "path": ""}, "^path: String should have at least 1 character"),
        ({"status": 500, "tiems": 2}, r"^unknown field 'tiems' \(known: method, path, status, times, "),
        ({"status": 99, "times": 0}, "^status: .* 200, got 99; times: .* 1, got 0$"),
    ],
)
def test_bad_rules_are_refused_with_a_one_line_message(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultInjector().add(**kwargs)
    with pytest.raises(ValueError, match=message):  # the model itself says the same
        Fault(**kwargs)


def test_a_fault_model_is_added_as_its_fields_are() -> None:
    faults = FaultInjector()
    by_model = faults.add(Fault(method="get", path="/api/ping", status=503, retry_after=2, times=None))
    by_fields = faults.add("get", "/api/ping", status=503, retry_after=2, times=None)
    first, second = faults.active()
    assert (first["id"], second["id"]) == (by_model, by_fields)
    assert {**first, "id": "", "seed": 0} == {**second, "id": "", "seed": 0}
    assert (first["method"], first["retry_after"]) == ("GET", "2")
    with pytest.raises(TypeError, match="either a Fault or its fields"):
        faults.add(Fault(status=500), status=503)  # type: ignore[call-overload]


def test_a_status_without_a_standard_reason_gets_a_default_body() -> None:
    with EmulatorThread(api_key="KEY") as running:
        running.faults.add("GET", "/api/ping", status=299)
        with urllib.request.urlopen(running.url + "/api/ping", timeout=30) as response:
            assert (response.status, json.load(response)) == (299, {"error": "Error"})


def test_a_bytes_body_is_listed_as_text() -> None:
    faults = FaultInjector()
    faults.add("GET", "/x", status=500, body=b"caf\xc3\xa9 \xff")
    [rule] = faults.active()
    assert rule["body"] == "café \ufffd"
    json.dumps(rule)  # the listing is JSON as it is


def test_bad_embedding_loss_and_outage_are_refused() -> None:
    faults = FaultInjector()
    with pytest.raises(ValueError, match="exactly one of fraction or next_n"):
        faults.lose_embeddings()
    with pytest.raises(ValueError, match="exactly one of fraction or next_n"):
        faults.lose_embeddings(fraction=0.5, next_n=1)
    with pytest.raises(ValueError, match=r"^fraction: Input should be less than or equal to 1, got 1\.5$"):
        faults.lose_embeddings(fraction=1.5)
    with pytest.raises(ValueError, match=r"^next_n: Input should be greater than or equal to 0, got -1$"):
        faults.lose_embeddings(next_n=-1)
    with pytest.raises(ValueError, match=r"^seconds: Input should be greater than or equal to 0, got -3$"):
        faults.outage(-3)
    with pytest.raises(ValueError, match=r"^seconds: Input should be a finite number, got nan$"):
        faults.outage(float("nan"))


# ------------------------------------------------------------ request log


async def test_request_log_records_every_request_faulted_or_not(
    server: Server, http: aiohttp.ClientSession
) -> None:
    rule = server.faults.add("GET", "/api/v1/workspaces", status=500)
    headers = {"Authorization": "Bearer SECRET-KEY", "X-Request-ID": "trace-123"}
    async with http.get(server.url + "/api/v1/workspaces", headers=headers, params={"a": "1"}) as r:
        assert r.status == 500
    server.clock.now += 2.5
    async with http.get(server.url + "/api/v1/workspaces", headers={"X-Request-ID": "trace-124"}) as r:
        assert r.status == 200
    async with http.get(server.url + "/_emulator/requests") as r:  # control endpoints are not recorded
        logged = (await r.json())["requests"]
    first, second = server.faults.requests
    assert (first.method, first.path, first.query, first.request_id, first.fault) == (
        "GET",
        "/api/v1/workspaces",
        {"a": "1"},
        "trace-123",
        rule,
    )
    assert first.headers["Authorization"] == "Bearer SECRET-KEY"
    assert "SECRET-KEY" not in repr(first)
    assert (second.request_id, second.fault, second.at - first.at) == ("trace-124", None, 2.5)
    assert [entry["request_id"] for entry in logged] == ["trace-123", "trace-124"]
    assert logged[0]["headers"]["Authorization"] == "Bearer ***"
    assert server.faults.clear_requests() == 2
    assert server.faults.requests == []


# ------------------------------------------------------------ control endpoints


async def test_control_endpoints(server: Server, http: aiohttp.ClientSession) -> None:
    base = server.url + "/_emulator"
    async with http.post(base + "/faults", json={"method": "GET", "path": "/api/ping", "status": 429}) as r:
        assert r.status == 200
        rule = (await r.json())["id"]
    async with http.post(
        base + "/faults", json={"path": "/api/v1/*", "status": 503, "retry_after": 3, "times": None}
    ) as r:
        other = (await r.json())["id"]
    async with http.get(base + "/faults") as r:
        assert [f["id"] for f in (await r.json())["faults"]] == [rule, other]
    async with http.get(server.url + "/api/ping") as r:
        assert r.status == 429
    async with http.get(server.url + "/api/v1/workspaces") as r:
        assert (r.status, r.headers["Retry-After"]) == (503, "3")
    async with http.delete(f"{base}/faults/{other}") as r:
        assert r.status == 200
    async with http.delete(f"{base}/faults/{other}") as r:
        assert r.status == 404
    async with http.get(server.url + "/api/v1/workspaces") as r:
        assert r.status == 200

    async with http.post(base + "/outage", json={"seconds": 60}) as r:
        assert r.status == 200
    async with http.get(server.url + "/api/ping") as r:
        assert r.status == 503
    async with http.delete(base + "/faults") as r:
        assert r.status == 200
    async with http.get(server.url + "/api/ping") as r:
        assert r.status == 200

    async with http.post(base + "/embedding-loss", json={"next_n": 1}) as r:
        assert r.status == 200
    assert [server.faults.embedding_loss.take() for _ in range(2)] == [True, False]
    async with http.post(base + "/embedding-loss", json={"fraction": 1, "seed": 4}) as r:
        assert r.status == 200
    assert server.faults.embedding_loss.take() is True

    async with http.get(base + "/requests") as r:
        assert len((await r.json())["requests"]) == 5
    async with http.delete(base + "/requests") as r:
        assert await r.json() == {"cleared": 5}
    assert server.faults.requests == []


async def test_control_endpoints_answer_what_was_set(server: Server, http: aiohttp.ClientSession) -> None:
    base = server.url + "/_emulator"
    rule = {"method": "post", "path": "/api/v1/document/upload", "status": 429, "retry_after": 1, "times": 3}
    async with http.post(base + "/faults", json=rule) as r:
        added = await r.json()
    async with http.get(base + "/faults") as r:
        assert (await r.json())["faults"] == [added]
    assert added == {
        **Fault(**rule).model_dump(mode="json"),
        "id": "f1",
        "kind": "rule",
        "seed": 1,
        "hits": 0,
    }
    assert (added["method"], added["retry_after"], added["times"]) == ("POST", "1", 3)
    async with http.post(base + "/outage", json={"seconds": 5}) as r:
        assert await r.json() == {"seconds": 5.0}
    async with http.post(base + "/embedding-loss", json={"next_n": 2}) as r:
        assert await r.json() == {"fraction": None, "next_n": 2, "seed": 0, "update_embeddings": False}


async def test_control_reset_forgets_state_faults_and_requests(
    emulator: RunningEmulator, server: Server, http: aiohttp.ClientSession
) -> None:
    await new_workspace(server, http, "Gone")
    server.faults.add("GET", "/api/ping", status=500, times=None)
    server.faults.lose_embeddings(next_n=1)
    server.faults.outage(30)
    async with http.post(server.url + "/_emulator/reset") as r:
        assert await r.json() == {"reset": True}
    assert server.faults.active() == []
    assert server.faults.requests == []
    assert emulator.faults.clock is not server.clock  # the fake clock is gone too
    assert await workspace_names(server, http) == []
    assert await new_workspace(server, http, "Gone") == "gone"  # no slug collision left behind
    assert server.faults.add("GET", "/api/ping", status=500) == "f1"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/faults", {"status": 500, "tiems": 2}, 400, "unknown field 'tiems' (known: method, path,"),
        (
            "POST",
            "/faults",
            {"status": 42},
            400,
            "status: Input should be greater than or equal to 200, got 42",
        ),
        ("POST", "/faults", {"status": "500"}, 400, "status: Input should be a valid integer, got '500'"),
        ("POST", "/faults", [1], 400, "must be a JSON object"),
        ("POST", "/outage", {}, 400, "seconds: required"),
        ("POST", "/outage", {"seconds": "ten"}, 400, "seconds: Input should be a valid number, got 'ten'"),
        (
            "POST",
            "/embedding-loss",
            {"fraction": 2},
            400,
            "fraction: Input should be less than or equal to 1",
        ),
        (
            "POST",
            "/embedding-loss",
            {"all": True},
            400,
            "unknown field 'all' (known: fraction, next_n, seed,",
        ),
        ("PUT", "/faults", {}, 405, "PUT is not allowed"),
        ("GET", "/nothing", None, 404, "unknown control endpoint"),
    ],
)
async def test_control_endpoints_refuse_bad_input(
    server: Server,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: object,
    status: int,
    message: str,
) -> None:
    async with http.request(method, server.url + "/_emulator" + path, json=body) as r:
        assert r.status == status
        assert message in (await r.json())["error"]
    assert server.faults.active() == []


async def test_control_endpoint_refuses_malformed_json(server: Server, http: aiohttp.ClientSession) -> None:
    async with http.post(
        server.url + "/_emulator/faults", data=b"{nope", headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 400
        assert "must be a JSON object" in (await r.json())["error"]


# ------------------------------------------------------------ from another thread


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_faults_set_from_the_test_thread_apply_to_an_emulator_thread_exactly() -> None:
    with EmulatorThread(api_key="KEY") as running:
        running.emulator.faults.add("GET", "/api/ping", status=503, times=25)
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(_status, [running.url + "/api/ping"] * 60))
        assert statuses.count(503) == 25
        assert statuses.count(200) == 35
        assert len(running.emulator.faults.requests) == 60
