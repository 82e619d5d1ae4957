"""The briefcraft error hierarchy: typed failures, caught broadly only at the UI/CLI boundary."""

from __future__ import annotations

__all__ = [
    "AuditError",
    "BriefError",
    "BriefcraftError",
    "CheckError",
    "ConfigError",
    "DecisionError",
    "ExportError",
    "GenerationError",
    "IngestError",
    "MemoryStoreError",
    "ProvenanceError",
    "ProviderError",
    "StructuredOutputError",
    "ThreadError",
]


class BriefcraftError(RuntimeError):
    """Base class of every error briefcraft raises on purpose. A ``RuntimeError``: LangGraph's API server
    (``langgraph dev``) shows a run's error message only for builtin error types, "An internal error occurred" for
    the rest, and ours are written for the person who made the request."""

    #: Exit code the CLI uses for this error: 2 for bad input, 1 for internal failures.
    exit_code = 1


class BriefError(BriefcraftError):
    """The brief is empty, too long, or names something we do not support (e.g. an unknown channel)."""

    exit_code = 2


class ConfigError(BriefcraftError):
    """A setting has a value we cannot use; the message names the setting."""

    exit_code = 2


class DecisionError(BriefcraftError):
    """A review decision or clarification answer does not fit the pending checkpoint."""

    exit_code = 2


class ThreadError(BriefcraftError):
    """A thread id is unknown, or the thread is not in a state that allows the request."""

    exit_code = 2


class ProviderError(BriefcraftError):
    """The configured chat model could not be created or called."""


class StructuredOutputError(ProviderError):
    """The model's output did not match the schema, even after one repair attempt."""

    def __init__(self, message: str, *, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


class GenerationError(BriefcraftError):
    """An image could not be generated or rendered."""


class ExportError(BriefcraftError):
    """The campaign pack could not be written."""


class CheckError(BriefcraftError):
    """What was handed to a compliance check cannot be checked (unknown channel or field, unreadable image)."""

    exit_code = 2


class ProvenanceError(BriefcraftError):
    """Signing, stamping or reading provenance failed (no signing certificate, a file C2PA cannot hold)."""

    exit_code = 2


class AuditError(BriefcraftError):
    """An audit ledger is missing, unreadable, or fails verification (edited, reordered or truncated)."""


class IngestError(BriefcraftError):
    """A document or image cannot go into brand memory (wrong type, empty, too big, unreadable, bad name)."""

    exit_code = 2


class MemoryStoreError(BriefcraftError):
    """Brand memory cannot be opened or reached (locked by another process, server down, wrong embeddings)."""
