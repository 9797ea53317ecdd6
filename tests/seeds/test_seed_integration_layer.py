"""Every usage example of the integration-layer specification (seed 000), run as written.

Each example is the seed's text (``test_every_example_is_the_seeds_own_text`` holds them to it).
The client examples run against the emulator and, marked ``integration``, a real AnythingLLM;
each test then checks that what the example did means what the specification says.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from seed_runner import Example, run_example, seed_text, without_trailing_spaces

import anythingllm_bridge
from anythingllm_bridge import AnythingLLMClient, Settings, get_settings
from anythingllm_bridge.client import FileUploadResult
from anythingllm_bridge.errors import AnythingLLMCircuitOpenError, AnythingLLMServerError
from support import Server, SleepRecorder, make_client

SAMPLE_PDF = Path(anythingllm_bridge.__file__).parent / "cli" / "demo_data" / "observatory-handbook.pdf"

CLIENT = Example(
    "000",
    "AnythingLLM Integration Client: Usage Example",
    """\
from app.core.config import get_settings
from app.integrations.anythingllm_client import create_anythingllm_client

# Create client
settings = get_settings()
client = create_anythingllm_client(settings)

# Use with context manager for proper cleanup
async with client:
    # Health check
    health = await client.health_check()

    # Create workspace
    workspace = await client.create_workspace("My Workspace")

    # Upload documents
    files = [Path("document1.pdf"), Path("document2.json")]
    upload_result = await client.upload_documents(workspace.workspace.id, files)

    # Create thread and send message
    thread = await client.create_thread(workspace.workspace.id, "Analysis Thread")
    response = await client.send_message(
        workspace.workspace.id,
        thread.thread.id,
        "What are the key points in these documents?"
    )
""",
)

CLIENT_CONFIGURATION = Example(
    "000",
    "AnythingLLM Integration Client: Configuration",
    """\
# Required settings
anythingllm_url = "http://localhost:3001"
anythingllm_api_key = "your-api-key"
anythingllm_timeout = 30  # seconds
""",
)

CIRCUIT_BREAKER = Example(
    "000",
    "Resilience Features: Circuit Breaker",
    """\
# Circuit breaker configuration
failure_threshold = 5  # Open after 5 failures
timeout = 60  # Stay open for 60 seconds
""",
)

RETRY = Example(
    "000",
    "Resilience Features: Retry Handler",
    """\
# Retry configuration
max_retries = 3
base_delay = 1.0  # seconds
max_delay = 60.0  # seconds
""",
)

STORAGE_CONFIGURATION = Example(
    "000",
    "Storage Abstraction Layer: Configuration",
    """\
# Local storage
storage_type = StorageType.LOCAL
storage_path = "/path/to/storage"

# S3 storage
storage_type = StorageType.S3
s3_bucket = "my-bucket"
s3_region = "us-east-1"
aws_access_key_id = "optional"
aws_secret_access_key = "optional"

# File validation
max_file_size = 100 * 1024 * 1024  # 100MB
allowed_file_types = ["pdf", "json", "csv"]
""",
)

LOCAL_STORAGE = Example(
    "000",
    "Usage Examples: Basic Local Storage",
    """\
from app.integrations.storage_client import LocalStorageClient

# Create client
client = LocalStorageClient("/tmp/storage")

# Upload file
result = await client.upload_file(Path("document.pdf"), "docs/contract.pdf")

# Check if file exists
exists = await client.file_exists("docs/contract.pdf")

# Download file
success = await client.download_file("docs/contract.pdf", Path("downloaded.pdf"))

# List files
files = await client.list_files("docs/")

# Delete file
deleted = await client.delete_file("docs/contract.pdf")
""",
)

FILE_VALIDATION = Example(
    "000",
    "Usage Examples: File Validation",
    """\
from app.integrations.file_validator import FileValidator

# Create validator
validator = FileValidator(
    max_file_size=1024 * 1024,  # 1MB
    allowed_file_types=['pdf', 'json', 'csv']
)

# Validate single file
is_valid, error = validator.validate_file(Path("document.pdf"))

# Validate multiple files
valid_files, invalid_files = validator.validate_multiple_files(file_list)

# Organize by type
organized = validator.organize_files_by_type(file_list)
""",
)

STORAGE_FACTORY = Example(
    "000",
    "Usage Examples: Using Storage Factory",
    """\
from app.integrations.storage_factory import StorageFactory
from app.core.config import get_settings

# Create client from settings
settings = get_settings()
client = StorageFactory.create_storage_client(settings)

# Use client (same interface regardless of backend)
await client.upload_file(source_path, "uploads/file.pdf")
""",
)

COMPLETE_WORKFLOW = Example(
    "000",
    "Usage Examples: Complete Workflow",
    """\
from app.integrations.storage_factory import StorageFactory
from app.integrations.file_validator import FileValidator

# Setup
client = StorageFactory.create_storage_client(settings)
validator = FileValidator.create_from_settings(settings)

# Validate files
valid_files, invalid_files = validator.validate_multiple_files(uploaded_files)

# Organize by type
organized = validator.organize_files_by_type(valid_files)

# Upload valid files
for file_type, files in organized.items():
    for file_path in files:
        storage_key = f"processed/{file_type}/{file_path.name}"
        await client.upload_file(file_path, storage_key)
""",
)

STORAGE_ERRORS = Example(
    "000",
    "Error Handling",
    """\
try:
    result = await client.upload_file(file_path, key)
except FileNotFoundError:
    # Handle missing source file
    pass
except StorageError as e:
    # Handle storage operation error
    logger.error(f"Storage error: {e}")
""",
)

EXAMPLES = [
    CLIENT,
    CLIENT_CONFIGURATION,
    CIRCUIT_BREAKER,
    RETRY,
    STORAGE_CONFIGURATION,
    LOCAL_STORAGE,
    FILE_VALIDATION,
    STORAGE_FACTORY,
    COMPLETE_WORKFLOW,
    STORAGE_ERRORS,
]


@pytest.fixture
def seed_text_000() -> str:
    text = seed_text("000")
    if text is None:
        pytest.skip("the specification (shared/seeds/000_*.txt) is not on this machine")
    return without_trailing_spaces(text)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.section)
def test_every_example_is_the_seeds_own_text(example: Example, seed_text_000: str) -> None:
    assert without_trailing_spaces(example.code) in seed_text_000


def test_every_python_example_of_the_seed_is_here(seed_text_000: str) -> None:
    blocks = re.findall(r"```python\n(.*?)```", seed_text_000, re.DOTALL)
    ours = {without_trailing_spaces(example.code) for example in EXAMPLES}
    assert [block for block in blocks if without_trailing_spaces(block) not in ours] == []


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A clean working folder and environment: ``get_settings()`` reads only what the test sets."""
    monkeypatch.chdir(tmp_path)
    for name in ("ANYTHINGLLM_URL", "ANYTHINGLLM_API_KEY", "STORAGE_TYPE", "STORAGE_PATH"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


# --------------------------------------------------------------------------- the client


def write_documents(folder: Path) -> None:
    """The example's document1.pdf and document2.json, in its working folder."""
    shutil.copy(SAMPLE_PDF, folder / "document1.pdf")
    (folder / "document2.json").write_text(
        json.dumps({"telescopes": [{"name": "Big Glorp", "aperture_mm": 600, "key point": "dome 3"}]}),
        encoding="utf-8",
    )


async def test_client_usage_example(server: Server, environment: pytest.MonkeyPatch) -> None:
    environment.setenv("ANYTHINGLLM_URL", server.url)
    environment.setenv("ANYTHINGLLM_API_KEY", server.api_key)
    write_documents(Path.cwd())
    async with make_client(server.url, server.api_key) as watcher:
        before = {w.slug for w in await watcher.list_workspaces()}
        try:
            ran = await run_example(CLIENT, Path=Path)
        finally:  # on a real server, remove what the example made, whatever happened
            made = [w for w in await watcher.list_workspaces() if w.slug not in before]
            server.created_workspaces += [w.slug for w in made]
            for workspace in made:
                server.created_documents += [
                    d.docpath for d in await watcher.list_workspace_documents(workspace.slug)
                ]

        assert ran["health"].ok
        created = ran["workspace"].workspace
        assert isinstance(created.id, int)
        assert created.name == "My Workspace"
        uploads: list[FileUploadResult] = ran["upload_result"]
        assert [(Path(u.path).name, u.status) for u in uploads] == [
            ("document1.pdf", "embedded"),
            ("document2.json", "embedded"),
        ]
        assert (await watcher.get_workspace(created.slug)).docpaths == {u.location for u in uploads}
        thread = ran["thread"].thread
        assert isinstance(thread.id, int)
        assert thread.name == "Analysis Thread"
        assert ran["response"].text_response
        history = await watcher.get_thread_history(created.slug, thread.slug)  # the message went there
        assert history[0].content == "What are the key points in these documents?"


async def test_client_configuration_example(environment: pytest.MonkeyPatch) -> None:
    ran = await run_example(CLIENT_CONFIGURATION)
    client = anythingllm_bridge.create_anythingllm_client(Settings(_env_file=None, **ran))  # type: ignore[call-arg]
    assert client.base_url == "http://localhost:3001"
    assert client.config.timeout == 30
    for name, value in ran.items():  # the same names are the environment variables
        environment.setenv(name.upper(), str(value))
    from_environment = get_settings()
    assert from_environment.anythingllm_url == "http://localhost:3001"
    assert from_environment.anythingllm_api_key is not None
    assert from_environment.anythingllm_api_key.get_secret_value() == "your-api-key"
    assert from_environment.anythingllm_timeout == 30


async def test_circuit_breaker_example(emulator: Any) -> None:
    ran = await run_example(CIRCUIT_BREAKER)
    emulator.emulator.faults.add("GET", "/api/v1/workspaces", status=500, times=None)
    options = {"failure_threshold": ran["failure_threshold"], "recovery_timeout": ran["timeout"]}
    async with make_client(emulator.url, emulator.api_key, max_retries=0, **options) as client:
        for _ in range(5):  # "Open after 5 failures"
            assert client.breaker.state.value == "closed"
            with pytest.raises(AnythingLLMServerError):
                await client.list_workspaces()
        assert client.breaker.state.value == "open"
        sent = len(emulator.emulator.faults.requests)
        with pytest.raises(AnythingLLMCircuitOpenError) as caught:  # "Stay open for 60 seconds"
            await client.list_workspaces()
        assert 0 < caught.value.retry_in <= 60
        assert client.config.recovery_timeout == 60
        assert len(emulator.emulator.faults.requests) == sent  # refused without a request


async def test_retry_example(emulator: Any) -> None:
    ran = await run_example(RETRY)
    emulator.emulator.faults.add("GET", "/api/v1/workspaces", status=503, times=3)
    waits = SleepRecorder()
    async with AnythingLLMClient(emulator.url, emulator.api_key, sleep=waits, **ran) as client:
        assert await client.list_workspaces() == []  # three transient failures, then the answer
    assert len(waits.waits) == 3
    for attempt, wait in enumerate(waits.waits):  # exponential backoff (full jitter) under the cap
        assert 0 <= wait <= min(ran["max_delay"], ran["base_delay"] * 2**attempt)


# --------------------------------------------------------------------------- storage and validation


async def test_storage_configuration_example(tmp_path: Path) -> None:
    ran = await run_example(STORAGE_CONFIGURATION, StorageType=anythingllm_bridge.StorageType)
    settings = Settings(_env_file=None, **ran)  # type: ignore[call-arg]
    assert settings.storage_type == "s3"  # the last assignment wins, as in the example
    assert (settings.s3_bucket, settings.s3_region) == ("my-bucket", "us-east-1")
    assert settings.max_file_size == 100 * 1024 * 1024
    assert settings.allowed_file_types == ["pdf", "json", "csv"]
    local = Settings(_env_file=None, storage_type=anythingllm_bridge.StorageType.LOCAL, storage_path=tmp_path)  # type: ignore[call-arg]
    assert isinstance(
        anythingllm_bridge.StorageFactory.create_storage_client(local), anythingllm_bridge.LocalStorageClient
    )
    remote = anythingllm_bridge.StorageFactory.create_storage_client(settings)
    assert isinstance(remote, anythingllm_bridge.S3StorageClient)
    assert remote.bucket == "my-bucket"


async def test_local_storage_example(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shutil.copy(SAMPLE_PDF, "document.pdf")
    # The one literal changed: the example's base folder, so runs never share /tmp/storage.
    base = tmp_path / "storage"
    example = Example(
        LOCAL_STORAGE.seed, LOCAL_STORAGE.section, LOCAL_STORAGE.code.replace("/tmp/storage", str(base))
    )
    ran = await run_example(example, Path=Path)
    assert ran["result"].key == "docs/contract.pdf"
    assert ran["result"].size == SAMPLE_PDF.stat().st_size
    assert ran["exists"] is True
    assert ran["success"]  # the downloaded file's path
    assert (tmp_path / "downloaded.pdf").read_bytes() == SAMPLE_PDF.read_bytes()  # the working folder
    assert ran["files"] == ["docs/contract.pdf"]
    assert ran["deleted"] is True
    assert not (base / "docs" / "contract.pdf").exists()


def sample_files(folder: Path) -> list[Path]:
    """A PDF, a JSON file, a CSV file, and a PNG image named like a PDF."""
    folder.mkdir(exist_ok=True)
    shutil.copy(SAMPLE_PDF, folder / "handbook.pdf")
    (folder / "data.json").write_text('{"a": 1}', encoding="utf-8")
    (folder / "table.csv").write_text("name,size\nBig Glorp,600\nSmall Glorp,200\n", encoding="utf-8")
    (folder / "chart.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    return [folder / name for name in ("handbook.pdf", "data.json", "table.csv", "chart.pdf")]


async def test_file_validation_example(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shutil.copy(SAMPLE_PDF, "document.pdf")
    file_list = sample_files(tmp_path / "files")
    ran = await run_example(FILE_VALIDATION, Path=Path, file_list=file_list)
    assert (ran["is_valid"], ran["error"]) == (True, None)
    assert [Path(p).name for p in ran["valid_files"]] == ["handbook.pdf", "data.json", "table.csv"]
    assert [Path(p).name for p, _ in ran["invalid_files"]] == ["chart.pdf"]
    assert {kind: [p.name for p in paths] for kind, paths in ran["organized"].items()} == {
        "pdf": ["handbook.pdf", "chart.pdf"],
        "json": ["data.json"],
        "csv": ["table.csv"],
    }


async def test_storage_factory_example(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    environment.setenv("STORAGE_TYPE", "local")
    environment.setenv("STORAGE_PATH", str(tmp_path / "store"))
    source_path = shutil.copy(SAMPLE_PDF, tmp_path / "source.pdf")
    ran = await run_example(STORAGE_FACTORY, source_path=source_path)
    assert await ran["client"].file_exists("uploads/file.pdf")
    assert (tmp_path / "store" / "uploads" / "file.pdf").read_bytes() == SAMPLE_PDF.read_bytes()


async def test_complete_workflow_example(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, storage_type="local", storage_path=tmp_path / "store")  # type: ignore[call-arg]
    uploaded_files = sample_files(tmp_path / "inbox")
    ran = await run_example(COMPLETE_WORKFLOW, settings=settings, uploaded_files=uploaded_files)
    assert await ran["client"].list_files("processed/") == [
        "processed/csv/table.csv",
        "processed/json/data.json",
        "processed/pdf/handbook.pdf",
    ]  # the PNG named .pdf was refused, never stored


async def test_storage_error_handling_example(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = anythingllm_bridge.LocalStorageClient(tmp_path / "store")
    logger = logging.getLogger("seed-example")
    names = {"client": client, "logger": logger, "StorageError": anythingllm_bridge.StorageError}
    # a missing source file: the FileNotFoundError branch
    ran = await run_example(STORAGE_ERRORS, file_path=tmp_path / "missing.pdf", key="docs/a.pdf", **names)
    assert "result" not in ran
    assert caplog.records == []
    # a key that would leave the storage folder: the StorageError branch, logged
    source = shutil.copy(SAMPLE_PDF, tmp_path / "a.pdf")
    with caplog.at_level(logging.ERROR, logger="seed-example"):
        ran = await run_example(STORAGE_ERRORS, file_path=source, key="../outside.pdf", **names)
    assert "result" not in ran
    assert [r.getMessage()[:15] for r in caplog.records] == ["Storage error: "]
    assert not (tmp_path / "outside.pdf").exists()
