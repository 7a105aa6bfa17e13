"""Where the Delta tables go, and the storage options delta-rs needs to reach them.

Local paths need none; Azure URIs (abfss://, az://, https://*.core.windows.net) authenticate with
an account key or SAS token from the environment, else the extractor's azure-identity chain.
Option values are secrets: never log them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from extractor.lake import Lake

log = logging.getLogger(__name__)

_AZURE_SCHEMES = ("az://", "abfs://", "abfss://", "adl://", "azure://")
_STORAGE_SCOPE = "https://storage.azure.com/.default"


class UnusableDeltaLocation(ValueError):
    """A location delta-rs cannot open."""


def resolve_delta_uri(lake_dir: Path, delta_uri: str | None = None) -> str:
    """The given URI (flag or DICOM_LAKE_DELTA_URI, read by the CLI), else `<lake>/delta`.

    Raises UnusableDeltaLocation for a local path holding `[` or `]`: delta-rs (1.x) fails on
    it with "Invalid object store url", whether given as a path or a file:// URI.
    """
    uri = (delta_uri or Lake(lake_dir).default_delta_uri).rstrip("/")
    if "://" not in uri and ("[" in uri or "]" in uri):
        raise UnusableDeltaLocation(
            f"the Delta location {uri!r} holds [ or ], which delta-rs cannot open in a local"
            " path: pass --delta-uri with a path without them"
        )
    return uri


def is_azure_uri(uri: str) -> bool:
    lowered = uri.lower()
    return lowered.startswith(_AZURE_SCHEMES) or (
        lowered.startswith("https://") and ".core.windows.net" in lowered
    )


def storage_options_for(
    uri: str,
    storage_options: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    credential_factory: Callable[[], Any] | None = None,
) -> dict[str, str]:
    """delta-rs storage options for `uri`: nothing for local paths; for Azure, from the environment.

    An account key or SAS token in the environment wins; otherwise the azure-identity
    DefaultAzureCredential (the extractor's credential chain) gets a storage token, passed as
    `bearer_token`. Options given explicitly override both. Values are secrets: never log them.
    """
    explicit = dict(storage_options or {})
    if not is_azure_uri(uri):
        return explicit
    env = os.environ if environ is None else environ
    options: dict[str, str] = {}
    for variable, option in (
        ("AZURE_STORAGE_ACCOUNT_NAME", "account_name"),
        ("AZURE_STORAGE_ACCOUNT_KEY", "account_key"),
        ("AZURE_STORAGE_SAS_TOKEN", "sas_token"),
        # For emulators and sovereign clouds, e.g. http://127.0.0.1:10000/devstoreaccount1.
        ("AZURE_STORAGE_ENDPOINT", "endpoint"),
    ):
        if env.get(variable):
            options[option] = env[variable]
    if options.get("endpoint", "").startswith("http://"):
        # Only an explicitly configured plain-HTTP endpoint (Azurite) may use HTTP.
        options["allow_http"] = "true"
    options.update(explicit)
    authenticated = {"account_key", "sas_token", "bearer_token", "token", "sas_key"} & set(options)
    if not authenticated and "use_emulator" not in options:
        options["bearer_token"] = _azure_storage_token(credential_factory)
    log.debug("Azure storage options for %s: %s", uri, sorted(options))
    return options


def _azure_storage_token(credential_factory: Callable[[], Any] | None) -> str:
    if credential_factory is None:
        from azure.identity import DefaultAzureCredential

        credential_factory = DefaultAzureCredential
    credential = credential_factory()
    return str(credential.get_token(_STORAGE_SCOPE).token)
