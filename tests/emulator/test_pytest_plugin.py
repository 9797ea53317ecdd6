"""The pytest plugin users get with the package (``anythingllm_bridge.testing.pytest_plugin``, entry point
``pytest11``): small user test files, run by pytest in-process through ``pytester`` (each run loads the
plugin through its entry point, as a user's pytest does), or in a subprocess where the environment has
to differ."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).parents[2] / "README.md"
PLUGIN = "anythingllm_bridge.testing.pytest_plugin"


def user_tests(pytester: pytest.Pytester, source: str, *, ini: str = "") -> None:
    """Write a user's test file (and a pytest.ini when ``ini`` is given)."""
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_user=textwrap.dedent(source))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest on the user's files, in-process, with the fixture loop scope set as pytest-asyncio asks.
    Without hypothesis's plugin, which re-imports hypothesis (about a second) in every in-process run."""
    options = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest"]
    return pytester.runpytest(*options, "-o", "asyncio_default_fixture_loop_scope=function", *args)


def test_the_entry_point_names_the_plugin_module() -> None:
    from importlib.metadata import entry_points

    [entry] = [e for e in entry_points(group="pytest11") if e.value == PLUGIN]
    assert entry.name == PLUGIN  # so naming the module again (-p, pytest_plugins) is not a second plugin


def test_naming_the_plugin_again_is_harmless(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(f"pytest_plugins = [{PLUGIN!r}]")
    user_tests(pytester, "def test_it(anythingllm_emulator):\n    assert anythingllm_emulator.url\n")
    run(pytester, "-p", PLUGIN).assert_outcomes(passed=1)


def test_sync_fixtures_with_a_fault_and_the_request_log(pytester: pytest.Pytester) -> None:
    user_tests(
        pytester,
        """
        import pytest
        from anythingllm_bridge import AnythingLLMServerError

        def test_client_and_emulator(anythingllm, anythingllm_emulator):
            assert anythingllm_emulator.url.startswith("http://127.0.0.1:")
            assert anythingllm_emulator.api_key not in repr(anythingllm_emulator)
            workspace = anythingllm.create_workspace("Reports")
            assert [w.slug for w in anythingllm.list_workspaces()] == [workspace.slug]
            assert [(r.method, r.path) for r in anythingllm_emulator.requests] == [
                ("POST", "/api/v1/workspace/new"),
                ("GET", "/api/v1/workspaces"),
            ]

        @pytest.fixture
        def anythingllm_client_options():
            return {"max_retries": 0}

        def test_a_fault(anythingllm, anythingllm_emulator):
            rule = anythingllm_emulator.faults.add("GET", "/api/v1/workspaces", status=503, times=None)
            with pytest.raises(AnythingLLMServerError):
                anythingllm.list_workspaces()
            assert [r.fault for r in anythingllm_emulator.requests] == [rule]  # no retry: the options
        """,
    )
    run(pytester).assert_outcomes(passed=2)


ASYNC_TESTS = """
    import pytest

    @pytest.mark.asyncio
    async def test_async_client(anythingllm_client, anythingllm_emulator):
        anythingllm_emulator.faults.add("GET", "/api/v1/workspaces", status=429, retry_after="0", times=1)
        await anythingllm_client.create_workspace("Notes")
        assert [w.name for w in await anythingllm_client.list_workspaces()] == ["Notes"]  # retried
        assert [r.fault for r in anythingllm_emulator.requests] == [None, "f1", None]
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_the_async_client_in_either_pytest_asyncio_mode(pytester: pytest.Pytester, mode: str) -> None:
    user_tests(
        pytester, ASYNC_TESTS, ini=f"asyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function"
    )
    run(pytester).assert_outcomes(passed=1)


def test_each_test_starts_with_an_empty_emulator(pytester: pytest.Pytester) -> None:
    user_tests(
        pytester,
        """
        def test_leaves_things_behind(anythingllm, anythingllm_emulator):
            anythingllm.create_workspace("Left behind")
            anythingllm_emulator.faults.add("*", "/api/v1/workspace/*", latency=30, times=None)
            anythingllm_emulator.faults.lose_embeddings(next_n=5)

        def test_sees_none_of_it(anythingllm, anythingllm_emulator):
            assert anythingllm_emulator.faults.active() == []
            assert anythingllm_emulator.requests == []
            assert anythingllm.list_workspaces() == []
            assert anythingllm.create_workspace("Left behind").workspace.slug == "left-behind"  # no collision
            assert anythingllm_emulator.faults.add("GET", "/x", status=500) == "f1"
        """,
    )
    run(pytester).assert_outcomes(passed=2)


def test_the_emulator_starts_when_first_asked_for_and_serves_the_whole_session(
    pytester: pytest.Pytester,
) -> None:
    # In a subprocess: this session may already serve its own emulator thread.
    user_tests(
        pytester,
        """
        import threading

        urls = []

        def emulator_threads():
            return [t for t in threading.enumerate() if t.name == "anythingllm-emulator"]

        def test_a_test_without_the_fixtures_starts_nothing():
            assert emulator_threads() == []

        def test_first(anythingllm_emulator):
            urls.append(anythingllm_emulator.url)
            assert len(emulator_threads()) == 1

        def test_second(anythingllm_emulator):
            assert [anythingllm_emulator.url] == urls
            assert len(emulator_threads()) == 1
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=3)


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    """Every pytest run in a project that installed the package imports the plugin module."""
    heavy = ("aiohttp", "pydantic", "anythingllm_bridge.client", "anythingllm_bridge.testing.emulator")
    probe = (
        "import anythingllm_bridge.testing.pytest_plugin, sys\n"
        f"print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []


def test_without_pytest_asyncio_the_async_client_says_what_is_missing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pytest_asyncio that cannot be imported, first on the path, stands for one that is not installed;
    # plugins are then loaded by hand, as the real pytest-asyncio's entry point would fail.
    (pytester.path / "shadow").mkdir()
    (pytester.path / "shadow" / "pytest_asyncio.py").write_text("raise ImportError('not installed')\n")
    user_tests(
        pytester,
        """
        def test_async_client(anythingllm_client):
            pass

        def test_sync_client_still_works(anythingllm):
            assert anythingllm.list_workspaces() == []
        """,
    )
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "shadow"))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess("-p", PLUGIN, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*the anythingllm_client fixture needs pytest-asyncio (pip install pytest-asyncio)*"]
    )


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Testing your code against the emulator (pytest plugin)", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert found, "the README's pytest plugin section has no python example"
    return found.group(1)


def test_the_readme_example_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_reports=readme_example())
    run(pytester).assert_outcomes(passed=3)
