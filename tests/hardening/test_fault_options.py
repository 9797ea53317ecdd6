"""The fault injector's options the soak needs: probabilistic rules and embedding loss on
``update-embeddings`` — checked over real HTTP against the emulator, served by the package's own pytest
plugin (the ``anythingllm_emulator`` fixture: one emulator for the session, emptied before each test)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import aiohttp
import pytest

from anythingllm_bridge.testing import RunningEmulator, run_emulator
from anythingllm_bridge.testing.faults import FaultInjector


@pytest.fixture
async def http(anythingllm_emulator: RunningEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {anythingllm_emulator.api_key}"}
    ) as session:
        yield session


async def ping_statuses(http: aiohttp.ClientSession, url: str, n: int) -> list[int]:
    statuses = []
    for _ in range(n):
        async with http.get(url + "/api/ping") as response:
            await response.read()
            statuses.append(response.status)
    return statuses


async def test_a_probabilistic_rule_faults_the_drawn_requests_the_same_way_each_run() -> None:
    async def one_run() -> list[int]:
        async with run_emulator(api_key="K") as running, aiohttp.ClientSession() as http:
            running.faults.add("GET", "/api/ping", status=503, probability=0.3, seed=5, times=None)
            return await ping_statuses(http, running.url, 200)

    first = await one_run()
    draws = random.Random(5)
    assert first == [503 if draws.random() < 0.3 else 200 for _ in range(200)]
    assert 30 < first.count(503) < 90
    assert await one_run() == first


async def test_requests_not_drawn_fall_through_to_later_rules(
    anythingllm_emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    faults = anythingllm_emulator.faults
    first = faults.add("GET", "/api/ping", status=503, probability=0.5, times=None)
    second = faults.add("GET", "/api/ping", status=429, retry_after="1", times=None)
    statuses = await ping_statuses(http, anythingllm_emulator.url, 60)
    assert set(statuses) == {503, 429}
    hits = {f["id"]: f["hits"] for f in faults.active()}
    assert hits == {first: statuses.count(503), second: statuses.count(429)}
    assert [r.fault for r in faults.requests] == [first if s == 503 else second for s in statuses]


async def test_times_counts_only_the_requests_the_fault_was_applied_to(
    anythingllm_emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    faults = anythingllm_emulator.faults
    faults.add("GET", "/api/ping", status=500, probability=0.25, seed=1, times=3)
    statuses = await ping_statuses(http, anythingllm_emulator.url, 100)
    assert statuses.count(500) == 3
    assert faults.active() == []  # used up


async def test_rules_draw_independently_by_default(anythingllm_emulator: RunningEmulator) -> None:
    faults = anythingllm_emulator.faults
    a = faults.add("GET", "/a", status=503, probability=0.5, times=None)
    b = faults.add("GET", "/b", status=503, probability=0.5, times=None)
    listed = {f["id"]: f for f in faults.active()}
    assert (listed[a]["probability"], listed[b]["probability"]) == (0.5, 0.5)
    assert listed[a]["seed"] != listed[b]["seed"]


async def test_probabilistic_rules_over_the_control_endpoint(
    anythingllm_emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    rule = {"method": "GET", "path": "/api/ping", "status": 503, "probability": 0.5, "seed": 3, "times": None}
    async with http.post(anythingllm_emulator.url + "/_emulator/faults", json=rule) as response:
        assert response.status == 200
        rule_id = (await response.json())["id"]
    async with http.get(anythingllm_emulator.url + "/_emulator/faults") as response:
        (listed,) = (await response.json())["faults"]
    assert (listed["id"], listed["probability"], listed["seed"]) == (rule_id, 0.5, 3)
    async with http.post(
        anythingllm_emulator.url + "/_emulator/faults", json={**rule, "probability": 2}
    ) as response:
        assert response.status == 400
        assert "probability" in (await response.json())["error"]


@pytest.mark.parametrize(
    ("probability", "match"),
    [
        (0, "^probability: Input should be greater than 0, got 0$"),
        (1.5, "^probability: Input should be less than or equal to 1, got 1.5$"),
        (float("nan"), "^probability: Input should be a finite number, got nan$"),
        ("0.5", "^probability: Input should be a valid number, got '0.5'$"),
        (True, "^probability: Input should be a valid number, got True$"),
    ],
)
def test_nonsense_probabilities_are_refused(probability: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FaultInjector().add("GET", "/x", status=503, probability=probability)


async def _new_workspace_and_documents(
    http: aiohttp.ClientSession, url: str, n: int
) -> tuple[str, list[str]]:
    async with http.post(url + "/api/v1/workspace/new", json={"name": "Loss"}) as response:
        slug: str = (await response.json())["workspace"]["slug"]
    locations = []
    for i in range(n):
        body = {"textContent": f"document {i}", "metadata": {"title": f"doc-{i}"}}
        async with http.post(url + "/api/v1/document/raw-text", json=body) as response:
            assert response.status == 200
            locations.append((await response.json())["documents"][0]["location"])
    return slug, locations


async def _embed(http: aiohttp.ClientSession, url: str, slug: str, adds: list[str]) -> list[str]:
    async with http.post(
        url + f"/api/v1/workspace/{slug}/update-embeddings", json={"adds": adds}
    ) as response:
        assert response.status == 200  # silently: the answer does not say anything was lost
        return sorted(d["docpath"] for d in (await response.json())["workspace"]["documents"])


async def test_update_embeddings_loses_documents_only_when_asked(
    anythingllm_emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    faults = anythingllm_emulator.faults
    slug, locations = await _new_workspace_and_documents(http, anythingllm_emulator.url, 4)

    faults.lose_embeddings(next_n=1)  # uploads only (the default): update-embeddings is not affected
    assert await _embed(http, anythingllm_emulator.url, slug, locations[:1]) == locations[:1]
    assert faults.embeddings_lost == 0

    faults.lose_embeddings(next_n=1, update_embeddings=True)
    assert {"update_embeddings": True}.items() <= faults.active()[0].items()
    assert await _embed(http, anythingllm_emulator.url, slug, locations[1:4]) == sorted(
        [locations[0], *locations[2:4]]
    )
    assert faults.embeddings_lost == 1


async def test_update_embeddings_loss_over_the_control_endpoint(
    anythingllm_emulator: RunningEmulator, http: aiohttp.ClientSession
) -> None:
    slug, locations = await _new_workspace_and_documents(http, anythingllm_emulator.url, 2)
    body = {"fraction": 1, "update_embeddings": True}
    async with http.post(anythingllm_emulator.url + "/_emulator/embedding-loss", json=body) as response:
        assert response.status == 200
    assert await _embed(http, anythingllm_emulator.url, slug, locations) == []
    assert anythingllm_emulator.faults.embeddings_lost == 2
    with pytest.raises(ValueError, match=r"^update_embeddings: Input should be a valid boolean, got 'yes'$"):
        anythingllm_emulator.faults.lose_embeddings(next_n=1, update_embeddings="yes")
