"""Two usage examples of FileValidator's tuple API, word for word as they were first published
("File Validation" and "Complete Workflow"): code written from them must keep working. Only their
imports change, from the application they were written in (``app.…``) to ``anythingllm_bridge``.
They are kept as text and compiled (top-level ``await`` allowed), so what runs is exactly what a
user would paste."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import pytest

from anythingllm_bridge.config import Settings

FILE_VALIDATION = """
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
"""

COMPLETE_WORKFLOW = """
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
"""

IMPORTS = {
    "from app.integrations.file_validator import": "from anythingllm_bridge import",
    "from app.integrations.storage_factory import": "from anythingllm_bridge import",
}

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
FILES = {
    "document.pdf": PDF,
    "data.json": b'{"rows": [1, 2, 3]}',
    "table.csv": b"id,name\n1,Ada\n2,Grace\n",
    "fake.pdf": b"\x7fELF\x02\x01\x01\x00" + bytes(100),
    "notes.txt": b"not an allowed type\n",
}


async def run(example: str, names: dict[str, Any]) -> dict[str, Any]:
    """Run ``example`` with its imports swapped, in ``names``; return the names it left."""
    for theirs, ours in IMPORTS.items():
        example = example.replace(theirs, ours)
    code = compile(example, "<example>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, names)  # a coroutine when the example awaits
    if inspect.iscoroutine(result):
        await result
    return names


@pytest.fixture
def file_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    monkeypatch.chdir(tmp_path)  # the example names "document.pdf" relative to the working folder
    for name, data in FILES.items():
        Path(name).write_bytes(data)
    return [Path(name) for name in FILES]


async def test_the_file_validation_example_runs_as_written(file_list: list[Path]) -> None:
    done = await run(FILE_VALIDATION, {"Path": Path, "file_list": file_list})
    assert (done["is_valid"], done["error"]) == (True, None)
    assert done["valid_files"] == [Path("document.pdf"), Path("data.json"), Path("table.csv")]
    assert [(path.name, reason.split(",")[0]) for path, reason in done["invalid_files"]] == [
        ("fake.pdf", "is really an ELF executable (Linux/Unix program)"),
        ("notes.txt", "is a .txt file"),
    ]
    assert {kind: [path.name for path in paths] for kind, paths in done["organized"].items()} == {
        "pdf": ["document.pdf", "fake.pdf"],
        "json": ["data.json"],
        "csv": ["table.csv"],
        "txt": ["notes.txt"],
    }


async def test_the_complete_workflow_example_runs_as_written(file_list: list[Path], tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        storage_type="local",
        storage_path=tmp_path / "store",
        max_file_size=1024 * 1024,
        allowed_file_types="pdf,json,csv",
    )
    (tmp_path / "store").mkdir()
    done = await run(COMPLETE_WORKFLOW, {"settings": settings, "uploaded_files": file_list})
    assert [path.name for path, _ in done["invalid_files"]] == ["fake.pdf", "notes.txt"]
    stored = sorted(str(path.relative_to(tmp_path / "store")) for path in (tmp_path / "store").rglob("*.*"))
    assert stored == ["processed/csv/table.csv", "processed/json/data.json", "processed/pdf/document.pdf"]
    assert (tmp_path / "store" / "processed/pdf/document.pdf").read_bytes() == PDF
