"""What people expect of a command line: --version, shell completion, settings from the environment,
a .env file (here or in a parent folder) and a user config file, ``allm config`` saying where each
value came from, --quiet, --verbose without empty trace ids, and clean help text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from cli_support import KEY, Allm, one_line_error
from typer.main import get_command

from anythingllm_bridge import __version__
from anythingllm_bridge.cli.app import app
from anythingllm_bridge.client import AnythingLLM

README = Path(__file__).parents[2] / "README.md"


def test_version(allm: Allm) -> None:
    result = allm("--version", key=None)
    assert result.stdout == f"allm {__version__}\n"


def test_shell_completion_is_offered_and_completes_commands(allm: Allm) -> None:
    script = allm("--show-completion", "bash", key=None).stdout
    assert "_ALLM_COMPLETE=complete_bash" in script
    assert "--install-completion" in allm("--help", key=None).stdout
    completing = {"_ALLM_COMPLETE": "complete_bash", "COMP_WORDS": "allm works", "COMP_CWORD": "1"}
    assert allm(env=completing, key=None).stdout.split() == ["workspaces"]
    completing.update(COMP_WORDS="allm workspaces cr", COMP_CWORD="2")
    assert allm(env=completing, key=None).stdout.split() == ["create"]


# --------------------------------------------------------------------------- where settings come from


def config(allm: Allm, **kwargs: Any) -> dict[str, Any]:
    result = allm("config", "--json", **kwargs)
    assert KEY not in result.stdout
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_a_dotenv_in_a_parent_folder_is_found(allm: Allm, home: Path) -> None:
    project = home / "project"
    (project / "docs" / "deep").mkdir(parents=True)
    (project / ".env").write_text(f"ANYTHINGLLM_API_KEY={KEY}\nMAX_RETRIES=2\n")
    allm("workspaces", "list", key=None, cwd=project / "docs" / "deep")

    data = config(allm, key=None, cwd=project / "docs" / "deep")
    assert data["dotenv"] == str(project / ".env")
    assert data["settings"]["ANYTHINGLLM_API_KEY"] == {"value": "********", "source": ".env"}
    assert data["settings"]["ANYTHINGLLM_MAX_RETRIES"] == {"value": 2, "source": ".env"}
    assert data["settings"]["ANYTHINGLLM_URL"]["source"] == "environment"
    assert data["settings"]["ANYTHINGLLM_TIMEOUT"]["source"] == "default"


def test_the_user_config_file_is_read_and_everything_else_wins_over_it(allm: Allm, home: Path) -> None:
    config_file = home / "config" / "anythingllm-bridge" / "config.toml"
    config_file.parent.mkdir(parents=True)
    config_file.write_text(
        f'ANYTHINGLLM_API_KEY = "{KEY}"\nmax_retries = 1\nread_timeout = 30\n'
        'allowed_file_types = ["md", "csv"]\n'
    )
    (home / ".env").write_text("READ_TIMEOUT=40\n")
    allm("workspaces", "list", key=None)

    data = config(allm, key=None, env={"ANYTHINGLLM_MAX_RETRIES": "5"})
    settings = data["settings"]
    assert data["config_file"] == str(config_file)
    assert data["config_file_found"] is True
    assert settings["ANYTHINGLLM_API_KEY"] == {"value": "********", "source": "config file"}
    assert settings["ALLOWED_FILE_TYPES"] == {"value": ["md", "csv"], "source": "config file"}
    assert settings["ANYTHINGLLM_MAX_RETRIES"] == {"value": 5, "source": "environment"}
    assert settings["ANYTHINGLLM_READ_TIMEOUT"] == {"value": 40.0, "source": ".env"}

    flags = json.loads(allm("--url", allm.url, "--api-key", KEY, "config", "--json").stdout)["settings"]
    assert flags["ANYTHINGLLM_URL"]["source"] == "--url"
    assert flags["ANYTHINGLLM_API_KEY"]["source"] == "--api-key"

    table = allm("config", key=None).stdout
    assert re.search(r"ANYTHINGLLM_API_KEY\s+\*{8}\s+config file", table)
    assert f"config file  {config_file}\n" in table
    assert KEY not in table


def test_a_broken_config_file_is_one_line(allm: Allm, home: Path) -> None:
    config_file = home / "config" / "anythingllm-bridge" / "config.toml"
    config_file.parent.mkdir(parents=True)
    config_file.write_text("max_retries = [unclosed\n")
    one_line_error(allm("workspaces", "list", check=False), str(config_file), "not valid TOML")
    config_file.write_text("max_retries = -1\n")
    one_line_error(allm("config", check=False), "ANYTHINGLLM_MAX_RETRIES", f"(from {config_file})")


def test_without_a_key_the_error_says_where_it_looked(allm: Allm, home: Path) -> None:
    line = one_line_error(allm("workspaces", "list", key=None, check=False), "ANYTHINGLLM_API_KEY")
    assert f"no .env in {home} or its parents" in line
    assert str(home / "config" / "anythingllm-bridge" / "config.toml") in line


# --------------------------------------------------------------------------- --quiet and --verbose


def test_quiet_prints_only_errors_and_data(allm: Allm, api: AnythingLLM, tmp_path: Path) -> None:
    created = allm("-q", "workspaces", "create", "Quiet One")
    assert created.stdout == "quiet-one\n"
    assert created.stderr == ""
    assert "quiet-one" in allm("-q", "workspaces", "list").stdout  # data still prints

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.csv").write_text("a,b\n1,2\n")
    synced = allm("-q", "sync", str(folder), "-w", "quiet-one", "--types", "csv")
    assert (synced.stdout, synced.stderr) == ("", "")
    assert len(api.get_workspace("quiet-one").documents) == 1

    healthy = allm("-q", "health")
    assert (healthy.stdout, healthy.stderr) == ("", "")
    deleted = allm("-q", "workspaces", "delete", "quiet-one", "--yes")
    assert (deleted.stdout, deleted.stderr) == ("", "")
    one_line_error(allm("-q", "workspaces", "show", "quiet-one", check=False), "quiet-one")


def test_verbose_logs_show_no_empty_trace_id(allm: Allm) -> None:
    result = allm("--verbose", "workspaces", "show", "no-such-workspace", check=False)
    assert result.returncode == 1
    assert "[trace None]" not in result.stderr
    assert "GET /v1/workspace/no-such-workspace" in result.stderr
    (failed,) = [line for line in result.stderr.splitlines() if "command failed" in line]
    assert "[trace" not in failed  # logged outside any call
    assert result.stderr.splitlines()[-1].startswith("error: ")


# --------------------------------------------------------------------------- help


def every_command() -> Iterator[tuple[str, typer.Context, Any]]:
    root = get_command(app)
    stack = [(typer.Context(root, info_name="allm"), root)]
    while stack:
        ctx, command = stack.pop()
        yield ctx.command_path, ctx, command
        for name, sub in getattr(command, "commands", {}).items():
            stack.append((typer.Context(sub, info_name=name, parent=ctx), sub))


def test_help_is_plain_text_without_type_tags() -> None:
    seen = []
    for path, ctx, command in every_command():
        text = command.get_help(ctx)
        seen.append(path)
        for tag in ("<bool>", "<str>", "<int", "<float", "<list", "<path>", "{"):
            assert tag not in text, f"{path} --help shows {tag}:\n{text}"
        if "Commands:" in text:
            assert "..." not in text.split("Commands:")[1], text  # no summary cut short
    assert "allm sync" in seen
    assert "allm workspaces create" in seen
    ask = dict((path, command.get_help(ctx)) for path, ctx, command in every_command())["allm ask"]
    assert "Usage: allm ask [OPTIONS] SLUG QUESTION" in ask


def test_exit_codes_are_documented() -> None:
    readme = README.read_text(encoding="utf-8")
    section = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    for code in ("0", "1", "2", "130"):
        assert f"| `{code}` |" in section
    root = get_command(app)
    assert "130 interrupted" in root.get_help(typer.Context(root, info_name="allm"))
