"""The few Orthanc REST calls the source needs, with errors that name their cause."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from extractor.sources.errors import AuthFailure, MalformedResponse, SourceError
from extractor.sources.http import public_url, retry_malformed, send_get
from extractor.sources.orthanc.settings import PASSWORD_ENV, USERNAME_ENV

DICOMWEB_ROOT = "/dicom-web"
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_decoder = json.JSONDecoder()


@dataclass(frozen=True)
class InstanceUids:
    study: str
    series: str
    sop: str


class OrthancClient:
    """The few Orthanc REST calls the source needs, with errors that name their cause.

    The session (extractor.http.make_session) retries connection errors and 429/5xx; a 200
    answer that is not JSON is read again here.
    """

    def __init__(self, session: requests.Session, url: str, timeout: float) -> None:
        self.session = session
        self.base = url.rstrip("/")
        self.where = public_url(url)
        self.timeout = timeout
        self._series: dict[str, tuple[str, str]] = {}  # series id -> (series uid, study id)
        self._studies: dict[str, str] = {}  # study id -> study uid
        self.requests = 0

    # -- transport ---------------------------------------------------------------------------

    def _get(
        self, path: str, params: Mapping[str, str] | None = None, *, accept: str | None = None
    ) -> requests.Response | None:
        """GET; None on 404 (the caller decides what a missing resource means)."""
        headers = {"Accept": accept} if accept else None
        self.requests += 1
        response = send_get(self.session, self.base + path, params, self.timeout, headers)
        if response.ok:
            return response
        if response.status_code == 404:
            return None
        raise self._status_error(response, path)

    def _status_error(self, response: requests.Response, path: str) -> SourceError:
        status = response.status_code
        detail = response.text.strip()[:300]
        if status == 401:
            return AuthFailure(
                f"Orthanc at {self.where} answered 401 Unauthorized: set {USERNAME_ENV} and "
                f"{PASSWORD_ENV} to a user of its RegisteredUsers (or unset both when its "
                "authentication is disabled)"
            )
        if status == 403:
            return AuthFailure(
                f"Orthanc at {self.where} answered 403 Forbidden for {path}: the user may not "
                "read it (an authorization plugin, or a remote client with RemoteAccessAllowed "
                "false)"
            )
        return SourceError(f"Orthanc at {self.where} answered {status} for {path}: {detail}")

    @retry_malformed
    def get_json(
        self, path: str, params: Mapping[str, str] | None = None, *, required: bool = True
    ) -> Any:
        """The JSON answer of a GET; None on 404 unless `required` (then a SourceError)."""
        response = self._get(path, params)
        if response is None:
            if required:
                raise SourceError(
                    f"Orthanc at {self.where} answered 404 Not Found for {path}: is the URL the "
                    "root of Orthanc's REST API (e.g. http://127.0.0.1:8042)?"
                )
            return None
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type") or "no content type"
            raise MalformedResponse(
                f"Orthanc at {self.where} answered {path} with {kind} that is not valid JSON"
            ) from None

    # -- the calls ----------------------------------------------------------------------------

    def check_dicomweb(self) -> None:
        plugins = self.get_json("/plugins")
        if not isinstance(plugins, list) or "dicom-web" not in plugins:
            raise SourceError(
                f"Orthanc at {self.where} has no DICOMweb plugin (GET /plugins lists "
                f"{plugins!r}): install orthanc-dicomweb and enable it in the configuration"
            )

    def changes(self, since: int, limit: int) -> dict[str, Any]:
        page = self.get_json("/changes", {"since": str(since), "limit": str(limit)})
        if (
            not isinstance(page, dict)
            or not isinstance(page.get("Changes"), list)
            or not isinstance(page.get("Last"), int)
            or not isinstance(page.get("Done"), bool)
        ):
            raise MalformedResponse(f"Orthanc at {self.where}: /changes is not a change page")
        return page

    def instance_uids(self, instance_id: str) -> InstanceUids | None:
        """The instance's three UIDs (series and studies cached), or None if it is gone."""
        instance = self.get_json(f"/instances/{instance_id}", required=False)
        if instance is None:
            return None
        sop = instance["MainDicomTags"]["SOPInstanceUID"]
        series_id = instance["ParentSeries"]
        if series_id not in self._series:
            series = self.get_json(f"/series/{series_id}", required=False)
            if series is None:
                return None
            self._series[series_id] = (
                series["MainDicomTags"]["SeriesInstanceUID"],
                series["ParentStudy"],
            )
        series_uid, study_id = self._series[series_id]
        if study_id not in self._studies:
            study = self.get_json(f"/studies/{study_id}", required=False)
            if study is None:
                return None
            self._studies[study_id] = study["MainDicomTags"]["StudyInstanceUID"]
        return InstanceUids(self._studies[study_id], series_uid, sop)

    @retry_malformed
    def metadata(self, uids: InstanceUids) -> str | None:
        """The instance's DICOM JSON object, as the exact text the plugin sent; None if gone."""
        path = (
            f"{DICOMWEB_ROOT}/studies/{uids.study}/series/{uids.series}"
            f"/instances/{uids.sop}/metadata"
        )
        response = self._get(path, accept="application/dicom+json")
        if response is None:
            return None
        return single_object_text(response.text, f"{self.where}{path}")

    def statistics(self) -> dict[str, Any]:
        statistics = self.get_json("/statistics")
        if not isinstance(statistics, dict) or not isinstance(
            statistics.get("CountInstances"), int
        ):
            raise MalformedResponse(f"Orthanc at {self.where}: /statistics has no CountInstances")
        return statistics

    def instance_id_pages(self, page_size: int) -> Iterator[list[str]]:
        """Every instance id, a page at a time (`since` is an offset in Orthanc's listing)."""
        offset = 0
        while True:
            page = self.get_json("/instances", {"since": str(offset), "limit": str(page_size)})
            if not isinstance(page, list):
                raise MalformedResponse(f"Orthanc at {self.where}: /instances is not a list")
            yield [str(identifier) for identifier in page]
            if len(page) < page_size:
                return
            offset += len(page)

    def instance_exists(self, instance_id: str) -> bool:
        response = self._get(f"/instances/{instance_id}")
        return response is not None


def single_object_text(text: str, where: str) -> str | None:
    """The text of the one object in a JSON array `[{...}]`, cut unchanged; None if `[]`.

    Re-serialising it could change how numbers are written, so the span is cut from the answer.
    """
    try:
        position = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
        if text[position] != "[":
            raise ValueError("not an array")
        position = _WHITESPACE.match(text, position + 1).end()  # type: ignore[union-attr]
        if text[position] == "]":
            return None
        start = position
        value, position = _decoder.raw_decode(text, position)
        end = position
        position = _WHITESPACE.match(text, position).end()  # type: ignore[union-attr]
        if not isinstance(value, dict) or text[position] != "]":
            raise ValueError("not one object")
        if text[position + 1 :].strip():
            raise ValueError("extra data after the array")
    except (ValueError, IndexError) as error:
        raise MalformedResponse(
            f"{where} is not an array of one DICOM JSON object ({error})"
        ) from None
    return text[start:end]
