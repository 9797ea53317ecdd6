"""The retry policy: which calls are safe to repeat, which failures are worth it, how long to wait."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anythingllm_bridge.errors import (
    AnythingLLMAPIError,
    AnythingLLMAuthenticationError,
    AnythingLLMChatError,
    AnythingLLMCircuitOpenError,
    AnythingLLMConnectionError,
    AnythingLLMError,
    AnythingLLMNotFoundError,
    AnythingLLMOutcomeUnknownError,
    AnythingLLMProtocolError,
    AnythingLLMRateLimitError,
    AnythingLLMServerError,
    AnythingLLMTimeoutError,
    AnythingLLMValidationError,
)
from anythingllm_bridge.resilience.retry import backoff, is_retry_safe, retry_delay, should_retry

SAFE = [
    ("GET", "/v1/workspaces"),
    ("GET", "/api/v1/workspace/ws/chats?apiSessionId=s"),
    ("GET", "/ping"),
    ("DELETE", "/v1/workspace/ws"),
    ("DELETE", "/v1/workspace/ws/thread/t"),
    ("DELETE", "/v1/system/remove-documents"),
    ("DELETE", "/v1/document/remove-folder"),
    ("POST", "/v1/workspace/ws/vector-search"),
    ("POST", "/v1/workspace/ws/update"),
    ("POST", "/v1/workspace/ws/update-pin"),
    ("POST", "/v1/workspace/ws/thread/t/update"),
    ("POST", "/v1/openai/embeddings"),
    ("post", "/api/v1/workspace/ws/vector-search/"),
]
CREATING = [
    ("POST", "/v1/document/upload"),
    ("POST", "/v1/document/upload/my-folder"),
    ("POST", "/v1/document/upload-link"),
    ("POST", "/v1/document/raw-text"),
    ("POST", "/v1/workspace/new"),
    ("POST", "/v1/workspace/ws/thread/new"),
    ("POST", "/v1/workspace/ws/chat"),
    ("POST", "/v1/workspace/ws/stream-chat"),
    ("POST", "/v1/workspace/ws/thread/t/chat"),
    ("POST", "/v1/workspace/ws/thread/t/stream-chat"),
    ("POST", "/v1/openai/chat/completions"),
    ("POST", "/v1/workspace/ws/update-embeddings"),
    ("POST", "/v1/document/create-folder"),
    ("POST", "/v1/document/move-files"),
    ("POST", "/v1/some/future/route"),
    ("PATCH", "/v1/workspace/ws"),
]


@pytest.mark.parametrize(("method", "path"), SAFE)
def test_reads_deletes_and_field_updates_are_safe(method: str, path: str) -> None:
    assert is_retry_safe(method, path)


@pytest.mark.parametrize(("method", "path"), CREATING)
def test_creating_and_unknown_calls_are_not_safe(method: str, path: str) -> None:
    assert not is_retry_safe(method, path)


def test_a_slug_named_like_a_safe_route_does_not_fool_it() -> None:
    assert not is_retry_safe("POST", "/v1/workspace/update/chat")
    assert not is_retry_safe("POST", "/v1/workspace/vector-search/thread/new")


def api(cls: type[AnythingLLMAPIError], status: int, said: str | None = None) -> AnythingLLMAPIError:
    return cls("x", status=status, server_message=said)


NOT_ONLINE = "Document processing API is not online. Document a.pdf will not be processed automatically."

ALWAYS = [
    api(AnythingLLMRateLimitError, 429),
    api(AnythingLLMServerError, 503),
    api(AnythingLLMServerError, 500, NOT_ONLINE),
]
SAFE_ONLY = [
    api(AnythingLLMAPIError, 408),
    api(AnythingLLMServerError, 502),
    api(AnythingLLMServerError, 504),
    AnythingLLMTimeoutError("read timeout"),
    AnythingLLMConnectionError("server disconnected"),
]
NEVER = [
    api(AnythingLLMValidationError, 400),
    api(AnythingLLMAuthenticationError, 403),
    api(AnythingLLMNotFoundError, 404),
    api(AnythingLLMValidationError, 422),
    api(AnythingLLMChatError, 200, "LLM failed"),
    api(AnythingLLMServerError, 500, "File extension .bin not supported"),
    api(AnythingLLMServerError, 500),
    api(AnythingLLMServerError, 501),
    AnythingLLMProtocolError("html"),
    AnythingLLMCircuitOpenError("open", retry_in=3.0),
    AnythingLLMOutcomeUnknownError("unknown"),
]


@pytest.mark.parametrize("error", ALWAYS, ids=repr)
@pytest.mark.parametrize("safe", [True, False])
def test_refusals_where_nothing_happened_are_retried_for_any_call(
    error: AnythingLLMError, safe: bool
) -> None:
    assert should_retry(error, retry_safe=safe, sent=True)


@pytest.mark.parametrize("error", SAFE_ONLY, ids=repr)
def test_failures_that_may_have_acted_are_retried_only_when_safe(error: AnythingLLMError) -> None:
    assert should_retry(error, retry_safe=True, sent=True)
    assert not should_retry(error, retry_safe=False, sent=True)


@pytest.mark.parametrize("error", NEVER, ids=repr)
@pytest.mark.parametrize("safe", [True, False])
def test_client_errors_and_final_states_are_never_retried(error: AnythingLLMError, safe: bool) -> None:
    assert not should_retry(error, retry_safe=safe, sent=True)


@pytest.mark.parametrize("safe", [True, False])
def test_a_connection_that_never_opened_is_retried_for_any_call(safe: bool) -> None:
    assert should_retry(AnythingLLMConnectionError("refused"), retry_safe=safe, sent=False)
    assert should_retry(AnythingLLMTimeoutError("connect timeout"), retry_safe=safe, sent=False)


statuses = st.integers(min_value=400, max_value=499).filter(lambda s: s not in (408, 429))


@given(status=statuses, safe=st.booleans(), sent=st.booleans(), said=st.text(max_size=30))
def test_property_other_4xx_never_retried(status: int, safe: bool, sent: bool, said: str) -> None:
    assert not should_retry(api(AnythingLLMAPIError, status, said), retry_safe=safe, sent=sent)


@given(status=st.integers(min_value=200, max_value=599), sent=st.booleans(), said=st.text(max_size=30))
def test_property_a_non_safe_call_is_retried_only_if_it_cannot_have_been_processed(
    status: int, sent: bool, said: str
) -> None:
    error = api(AnythingLLMAPIError, status, said)
    if should_retry(error, retry_safe=False, sent=sent):
        assert status in (429, 503) or (status == 500 and "not online" in said.lower())


@given(
    attempt=st.integers(min_value=1, max_value=2000),
    base=st.floats(min_value=0, max_value=10),
    cap=st.floats(min_value=0, max_value=120),
    seed=st.integers(),
)
def test_property_backoff_stays_within_full_jitter_bounds(
    attempt: int, base: float, cap: float, seed: int
) -> None:
    wait = backoff(attempt, base, cap, random.Random(seed))
    assert 0.0 <= wait <= min(cap, base * 2.0 ** min(attempt - 1, 64))


def test_backoff_grows_exponentially_until_the_cap() -> None:
    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    rng = Top()
    assert [backoff(n, 1.0, 10.0, rng) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    with pytest.raises(ValueError, match="attempt"):
        backoff(0, 1.0, 10.0, rng)


def test_backoff_is_jittered() -> None:
    rng = random.Random(1)
    waits = {backoff(3, 1.0, 60.0, rng) for _ in range(20)}
    assert len(waits) == 20


@given(asked=st.floats(min_value=0, max_value=1000), cap=st.floats(min_value=0, max_value=1000))
def test_property_retry_after_is_honoured_within_max_delay_else_fail_now(asked: float, cap: float) -> None:
    error = AnythingLLMRateLimitError("x", status=429, retry_after=asked)
    delay = retry_delay(error, 1, base_delay=1.0, max_delay=cap, rng=random.Random(0))
    if asked <= cap:
        assert delay == asked
    else:
        assert delay is None


def test_retry_after_on_a_503_counts_too_and_backoff_otherwise() -> None:
    error = api(AnythingLLMServerError, 503)
    error.retry_after = 2.0
    assert retry_delay(error, 1, base_delay=1.0, max_delay=60.0, rng=random.Random(0)) == 2.0
    plain = api(AnythingLLMServerError, 503)
    delay = retry_delay(plain, 3, base_delay=1.0, max_delay=60.0, rng=random.Random(0))
    assert delay is not None
    assert 0.0 <= delay <= 4.0
