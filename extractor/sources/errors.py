"""What a source raises when a DICOM server cannot be read; the job maps each to an exit code."""

from __future__ import annotations


class SourceError(Exception):
    """The server could not be read; the message says why and what to check."""


class SourceUnreachable(SourceError):
    """No answer (connection refused, timeouts, dropped connections) after every retry."""


class AuthFailure(SourceError):
    """401 or 403: a credential problem or a missing role."""


class MalformedResponse(SourceError):
    """A 200 answer that is not the JSON the server promises (truncated, or an HTML page)."""
