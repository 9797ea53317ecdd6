"""The server's slug rules (workspace slugs by its extended slugify, a random suffix on collision, thread
slugs kept as given): a table of names and the slugs a real server gave them, and what the emulator
does with it."""

from __future__ import annotations

import re

import pytest
from emulator_api import Api

from anythingllm_bridge.testing.slugify import anythingllm_slugify, slugify, strip_and_slug


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("My Workspace", "my-workspace"),
        ("Q&A: v1.0", "qanda-v1-dot-0"),
        ("Sales -- Team", "sales-team"),
        ("C++ docs!", "c-plus-plus-docs-bang"),
        ("Über Café", "uber-cafe"),
        ("研究 notes", "notes"),
        ("a/b,c?d#e", "abcde"),
        ("100% $ cost", "100percent-dollar-cost"),
        ("email@x.com", "email-at-x-dot-com"),
        ("My Test Workspace!", "my-test-workspace-bang"),
        ("pipes | and ~tildes~ (x) 'q' \"d\"", "pipes-and-tildes-x-q-d"),
        ("splat * here", "splat-splat-here"),
        ("  spaced\tout  ", "spaced-out"),
    ],
)
def test_workspace_slugs_follow_the_servers_extended_rules(name: str, slug: str) -> None:
    assert anythingllm_slugify(name) == slug


def test_thread_slugs_keep_their_case() -> None:
    assert anythingllm_slugify("My Thread", lower=False) == "My-Thread"


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("anythingllm.txt", "anythingllm.txt"),
        ("My Report (final).pdf", "My-Report-(final).pdf"),
        ("résumé 2024.docx", "resume-2024.docx"),
        ("a|b.txt", "aorb.txt"),
    ],
)
def test_document_file_names_use_the_plain_library(name: str, stem: str) -> None:
    assert slugify(name) == stem


@pytest.mark.parametrize(
    ("title", "slug"),
    [("Hello World.txt", "hello-world"), ("My Doc.pdf", "my-doc"), ("Notes", "notes"), ("a.b.c", "a-b")],
)
def test_raw_text_titles_lose_their_extension(title: str, slug: str) -> None:
    assert strip_and_slug(title) == slug


async def test_a_taken_slug_gets_one_random_eight_digit_suffix(api: Api) -> None:
    first = await api.workspace("Q&A: v1.0")
    second = await api.workspace("Q&A: v1.0")
    assert first["slug"] == "qanda-v1-dot-0"
    assert re.fullmatch(r"qanda-v1-dot-0-\d{8}", second["slug"])
    assert second["name"] == "Q&A: v1.0"


async def test_a_name_with_no_usable_character_gets_a_uuid_slug(api: Api) -> None:
    workspace = await api.workspace("研究")
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", workspace["slug"]
    )


async def test_renaming_keeps_the_slug_and_a_sent_slug_is_ignored(api: Api) -> None:
    workspace = await api.workspace("Before")
    reply = await api.post(f"/v1/workspace/{workspace['slug']}/update", json={"name": "After!", "slug": "x"})
    assert reply.json["workspace"]["name"] == "After!"
    assert reply.json["workspace"]["slug"] == "before"
    assert (await api.get("/v1/workspace/before")).json["workspace"][0]["name"] == "After!"
