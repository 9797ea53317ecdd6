"""Which failures are transient, which of those the retry loop repeats (given whether the call is
idempotent and whether its request left), and how long it waits."""

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
    AnythingLLMEmbeddingError,
    AnythingLLMError,
    AnythingLLMNotFoundError,
    AnythingLLMOutcomeUnknownError,
    AnythingLLMProtocolError,
    AnythingLLMRateLimitError,
    AnythingLLMServerError,
    AnythingLLMTimeoutError,
    AnythingLLMValidationError,
)
from anythingllm_bridge.resilience.retry import backoff, retry_delay, should_retry
from anythingllm_bridge.resilience.transient import is_transient


def api(
    cls: type[AnythingLLMAPIError], status: int, said: str | None = None, body: object = None
) -> AnythingLLMAPIError:
    return cls("x", status=status, server_message=said, body=body)


def refusal(said: str, key: str = "error") -> AnythingLLMServerError:
    """AnythingLLM's own 500: its JSON error envelope."""
    return AnythingLLMServerError("x", status=500, server_message=said, body={"success": False, key: said})


NOT_ONLINE = "Document processing API is not online. Document a.pdf will not be processed automatically."

# transient, and the server says it did nothing: retried whatever the call
REFUSED = [
    api(AnythingLLMRateLimitError, 429),
    api(AnythingLLMServerError, 503),
    api(AnythingLLMServerError, 500, NOT_ONLINE),
    refusal(NOT_ONLINE),
]
# transient, but the server may have acted: retried only when repeating the call is harmless
MAY_HAVE_ACTED = [
    api(AnythingLLMAPIError, 408),
    api(AnythingLLMServerError, 500),
    api(AnythingLLMServerError, 500, "Internal Server Error", "Internal Server Error"),  # a crash
    api(AnythingLLMServerError, 500, "Bad Gateway", "<html><h1>Bad Gateway</h1></html>"),  # a proxy
    api(AnythingLLMServerError, 500, "Internal Server Error", {"error": "Internal Server Error"}),
    api(AnythingLLMServerError, 500, "db locked", {"workspace": None, "message": "db locked"}),
    api(AnythingLLMServerError, 501),
    api(AnythingLLMServerError, 502),
    api(AnythingLLMServerError, 502, "no", {"success": False, "error": "no"}),  # a gateway's verdict
    api(AnythingLLMServerError, 504),
    AnythingLLMTimeoutError("read timeout"),
    AnythingLLMConnectionError("server disconnected"),
]
# not transient: the request itself is the problem, or the answer is not what the API promises
PERMANENT = [
    api(AnythingLLMValidationError, 400),
    api(AnythingLLMAuthenticationError, 403),
    api(AnythingLLMNotFoundError, 404),
    api(AnythingLLMNotFoundError, 200),
    api(AnythingLLMValidationError, 422),
    api(AnythingLLMChatError, 200, "LLM failed"),
    AnythingLLMProtocolError("html"),
    # AnythingLLM's own refusals: the same answer every time
    refusal("File extension .exe not supported for parsing and cannot be assumed as text file type."),
    refusal("Folder by that name already exists", key="message"),
    refusal("Invalid file upload. Unexpected field"),
]
# transient, yet never retried by the retry loop: an open breaker is waited out, not retried; an
# unknown outcome is the loop's final word
NOT_RETRIED = [
    AnythingLLMCircuitOpenError("open", retry_in=3.0),
    AnythingLLMOutcomeUnknownError("unknown"),
]


@pytest.mark.parametrize("error", [*REFUSED, *MAY_HAVE_ACTED, *NOT_RETRIED], ids=repr)
def test_transient_failures(error: AnythingLLMError) -> None:
    assert is_transient(error)


@pytest.mark.parametrize("error", PERMANENT, ids=repr)
def test_permanent_failures(error: AnythingLLMError) -> None:
    assert not is_transient(error)


def test_documents_left_out_of_a_workspace_are_transient_and_other_exceptions_are_not() -> None:
    assert is_transient(AnythingLLMEmbeddingError("left out", workspace="ws", missing=["a"]))
    assert not is_transient(ValueError("bad file"))
    assert not is_transient(OSError("disk"))


@pytest.mark.parametrize("error", REFUSED, ids=repr)
@pytest.mark.parametrize("idempotent", [True, False])
def test_refusals_where_nothing_happened_are_retried_for_any_call(
    error: AnythingLLMError, idempotent: bool
) -> None:
    assert should_retry(error, idempotent=idempotent, sent=True)


@pytest.mark.parametrize("error", MAY_HAVE_ACTED, ids=repr)
def test_failures_that_may_have_acted_are_retried_only_when_idempotent(error: AnythingLLMError) -> None:
    assert should_retry(error, idempotent=True, sent=True)
    assert not should_retry(error, idempotent=False, sent=True)


@pytest.mark.parametrize("error", [*PERMANENT, *NOT_RETRIED], ids=repr)
@pytest.mark.parametrize("idempotent", [True, False])
def test_permanent_failures_and_final_states_are_never_retried(
    error: AnythingLLMError, idempotent: bool
) -> None:
    assert not should_retry(error, idempotent=idempotent, sent=True)


@pytest.mark.parametrize("idempotent", [True, False])
def test_a_connection_that_never_opened_is_retried_for_any_call(idempotent: bool) -> None:
    assert should_retry(AnythingLLMConnectionError("refused"), idempotent=idempotent, sent=False)
    assert should_retry(AnythingLLMTimeoutError("connect timeout"), idempotent=idempotent, sent=False)


statuses = st.integers(min_value=400, max_value=499).filter(lambda s: s not in (408, 429))


@given(status=statuses, idempotent=st.booleans(), sent=st.booleans(), said=st.text(max_size=30))
def test_property_other_4xx_never_retried(status: int, idempotent: bool, sent: bool, said: str) -> None:
    error = api(AnythingLLMAPIError, status, said)
    assert not is_transient(error)
    assert not should_retry(error, idempotent=idempotent, sent=sent)


@given(status=st.integers(min_value=200, max_value=599), sent=st.booleans(), said=st.text(max_size=30))
def test_property_a_non_safe_call_is_retried_only_if_it_cannot_have_been_processed(
    status: int, sent: bool, said: str
) -> None:
    error = api(AnythingLLMAPIError, status, said)
    if should_retry(error, idempotent=False, sent=sent):
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
