"""Trace ids: the context variable and the log stamping."""

from __future__ import annotations

import asyncio
import logging

import pytest

from anythingllm_bridge.tracing import current_trace_id, get_logger, trace_id


def test_trace_id_sets_and_restores_the_current_id() -> None:
    assert current_trace_id() is None
    with trace_id("outer-1") as outer:
        assert outer == "outer-1"
        assert current_trace_id() == "outer-1"
        with trace_id() as inner:
            assert inner != "outer-1"
            assert len(inner) == 16
            assert current_trace_id() == inner
        assert current_trace_id() == "outer-1"
    assert current_trace_id() is None


def test_generated_ids_differ() -> None:
    ids = set()
    for _ in range(50):
        with trace_id() as tid:
            ids.add(tid)
    assert len(ids) == 50


@pytest.mark.parametrize("bad", ["", "   ", "a\r\nX-Evil: 1", "x" * 201, "caf\u00e9"])
def test_trace_id_refuses_values_that_cannot_be_a_header(bad: str) -> None:
    with pytest.raises(ValueError, match="trace id"), trace_id(bad):
        pass


async def test_concurrent_tasks_keep_their_own_ids() -> None:
    async def work(name: str) -> str | None:
        with trace_id(name):
            await asyncio.sleep(0)
            return current_trace_id()

    assert list(await asyncio.gather(work("a"), work("b"), work("c"))) == ["a", "b", "c"]


def test_package_loggers_stamp_records_with_the_trace_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="anythingllm_bridge")
    log = get_logger("anythingllm_bridge.tests.somewhere")
    with trace_id("stamped-1"):
        log.info("inside")
    log.info("outside")
    get_logger().warning("package logger")
    inside, outside, package = caplog.records
    assert inside.trace_id == "stamped-1"  # type: ignore[attr-defined]
    assert outside.trace_id is None  # type: ignore[attr-defined]
    assert package.trace_id is None  # type: ignore[attr-defined]


def test_an_explicit_trace_id_on_the_record_wins(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="anythingllm_bridge")
    with trace_id("context-id"):
        get_logger("anythingllm_bridge.x").info("m", extra={"trace_id": "explicit"})
    assert caplog.records[0].trace_id == "explicit"  # type: ignore[attr-defined]


def test_the_library_configures_no_handlers() -> None:
    get_logger("anythingllm_bridge.y")
    assert logging.getLogger("anythingllm_bridge").handlers == []
    assert logging.getLogger("anythingllm_bridge.y").handlers == []
