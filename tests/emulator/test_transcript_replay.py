"""The replay's own judgement of generated answers (``transcript_replay.compare_answer``)."""

from __future__ import annotations

from transcript_replay import STUB, compare_answer

WITH_CONTEXT = 'STUB ANSWER to "q?" | 2 context chunk(s); first says: "The river" | history messages: 4'
WITHOUT_CONTEXT = 'STUB ANSWER to "q?" | 0 context chunk(s) | history messages: 4'


def test_both_forms_of_the_stub_answer_are_recognised() -> None:
    with_context, without_context = STUB.match(WITH_CONTEXT), STUB.match(WITHOUT_CONTEXT)
    assert with_context is not None
    assert (with_context["q"], with_context["n"], with_context["first"], with_context["k"]) == (
        "q?",
        "2",
        "The river",
        "4",
    )
    assert without_context is not None
    assert (without_context["q"], without_context["n"], without_context["first"], without_context["k"]) == (
        "q?",
        "0",
        None,
        "4",
    )


def test_an_answer_matches_the_recorded_one_in_question_chunks_and_history() -> None:
    assert compare_answer(WITHOUT_CONTEXT, WITHOUT_CONTEXT, "x") == []
    assert compare_answer(WITH_CONTEXT, WITH_CONTEXT.replace("The river", "Other text"), "x") == []
    assert compare_answer(WITH_CONTEXT, WITHOUT_CONTEXT, "x") == ["x: n '0' (recorded '2')"]
    old_form = 'STUB ANSWER to "q?" | 0 context chunk(s); first says: "" | history messages: 4'
    assert compare_answer(WITHOUT_CONTEXT, old_form, "x") == [
        "x: the answer quotes a first chunk of no context"
    ]
    assert compare_answer(WITH_CONTEXT, "an answer", "x") == [
        "x: answer not shaped like the recorded one: 'an answer'"
    ]
