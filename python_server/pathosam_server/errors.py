"""The project's user-facing errors: each message says what went wrong and what to do.

Plain exception classes only (no torch, no gRPC), so every room can raise and catch them. The CLI turns
any ``PathoSamError`` into one line on stderr and a non-zero exit; the gRPC layer maps them to status
codes (``rpc.wire.RequestError`` carries its own code).
"""

from __future__ import annotations


class PathoSamError(Exception):
    """Base of every error whose message is meant for the user."""


class ModelError(PathoSamError):
    """A model cannot be found, downloaded or loaded; the message says what to do."""


class UnknownModelError(ModelError):
    """No model of that name is configured on this server."""


class ImageReadError(PathoSamError):
    """An image cannot be opened or read; the message says why."""


class SourceError(PathoSamError):
    """A project or image folder cannot be read; the message says why and what to do."""


class LedgerBusyError(PathoSamError):
    """Another batch holds the ledger's lock."""


class RunnerError(PathoSamError):
    """Segmentation cannot proceed (servers unreachable, refused, model missing); the message says why."""


class Cancelled(PathoSamError):
    """The caller went away (cancelled, or its deadline passed) before the work was done: it was stopped."""


class InvalidInput(PathoSamError):
    """The data a caller sent is wrong in itself (e.g. pixels that do not match their digest)."""
