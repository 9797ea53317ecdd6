"""File validation: before a byte goes to AnythingLLM, the file is what it claims to be.

``FileValidator`` checks existence, size, the allowed types and the content, reading at most
64 KiB per file whatever its size (a ZIP-based document up to 1 MiB more, for the list of its
members). See :mod:`anythingllm_bridge.validation._validator`.
"""

from __future__ import annotations

from anythingllm_bridge.validation._validator import KNOWN_TYPES, NOT_REGULAR, FileValidator, FileVerdict

__all__ = ["KNOWN_TYPES", "NOT_REGULAR", "FileValidator", "FileVerdict"]
