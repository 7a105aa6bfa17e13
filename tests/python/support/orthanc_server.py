"""A real Orthanc (Debian's `orthanc` and `orthanc-dicomweb` packages) for the tests.

`find_orthanc()` returns the server binary and the DICOMweb plugin, installing both with apt-get
when they are missing and the tests run as root (CI); otherwise it says why it cannot, for the
tests to skip with that message. `OrthancServer` starts one on a free port with a configuration
written to a temporary directory (its database and files there too), the DICOM port off, and
only loopback clients answered (RemoteAccessAllowed false: Orthanc 1.10 has no HTTP bind
address), and stops it at the end. Its TZ is Asia/Tokyo, so a test notices if a date Orthanc
writes is local time rather than UTC.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from support.dicom_factory import free_port

APT_PACKAGES = ("orthanc", "orthanc-dicomweb")
APT_COMMAND = "apt-get install -y --no-install-recommends orthanc orthanc-dicomweb"
SERVER_TIMEZONE = "Asia/Tokyo"


@dataclass(frozen=True)
class OrthancInstall:
    binary: str
    dicomweb_plugin: str
    version: str


def _plugin_path() -> str | None:
    try:
        listing = subprocess.run(
            ["dpkg", "-L", "orthanc-dicomweb"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    libraries = [line for line in listing.splitlines() if "libOrthancDicomWeb.so" in line]
    # /usr/share/orthanc/plugins/libOrthancDicomWeb.so is the link Debian enables by default.
    libraries.sort(key=lambda path: ("/plugins/" not in path, path))
    return next((path for path in libraries if os.path.exists(path)), None)


def _installed() -> OrthancInstall | None:
    binary = shutil.which("Orthanc") or (
        "/usr/sbin/Orthanc" if os.path.exists("/usr/sbin/Orthanc") else None
    )
    plugin = _plugin_path()
    if binary is None or plugin is None:
        return None
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    return OrthancInstall(binary, plugin, version.splitlines()[0] if version else "?")


def find_orthanc() -> tuple[OrthancInstall | None, str]:
    """(the installation, "") or (None, why it is missing and cannot be installed here)."""
    found = _installed()
    if found is not None:
        return found, ""
    if shutil.which("apt-get") is None:
        return None, (
            "Orthanc is not installed and this system has no apt-get: install Orthanc 1.10+ "
            "with its DICOMweb plugin (Debian/Ubuntu: " + APT_COMMAND + ")"
        )
    if os.geteuid() != 0:
        return None, (
            "Orthanc is not installed and the tests do not run as root, so they cannot install "
            "it: run `sudo " + APT_COMMAND + "`"
        )
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = APT_COMMAND.split()
    result = subprocess.run(install, capture_output=True, text=True, env=environment)
    if result.returncode != 0:  # a fresh image has no package lists yet
        subprocess.run(["apt-get", "update"], capture_output=True, text=True, env=environment)
        result = subprocess.run(install, capture_output=True, text=True, env=environment)
    found = _installed()
    if found is None:
        return None, (
            f"`{APT_COMMAND}` failed (exit {result.returncode}): {result.stderr.strip()[-500:]}"
        )
    return found, ""


class OrthancServer:
    """One Orthanc process on 127.0.0.1:<free port>, with its own empty database."""

    def __init__(
        self,
        install: OrthancInstall,
        directory: Path,
        *,
        users: dict[str, str] | None = None,
        name: str = "dicom-lake-tests",
    ) -> None:
        self.install = install
        self.directory = directory
        self.users = users
        self.name = name
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.session = requests.Session()
        if users:
            self.session.auth = next(iter(users.items()))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configuration(self) -> dict[str, Any]:
        storage = self.directory / "storage"
        return {
            "Name": self.name,
            "HttpPort": self.port,
            "DicomServerEnabled": False,
            "DicomPort": free_port(),
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": bool(self.users),
            "RegisteredUsers": self.users or {},
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "Plugins": [self.install.dicomweb_plugin],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "SaveJobs": False,
            "StableAge": 2,
            "HttpTimeout": 30,
            "LuaScripts": [],
        }

    def start(self) -> OrthancServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):  # a free port can be taken between probing and binding
            self.port = free_port()
            config = self.directory / "orthanc.json"
            config.write_text(json.dumps(self.configuration(), indent=2))
            log = open(self.directory / "orthanc.log", "wb")  # noqa: SIM115 - the process keeps it
            self.process = subprocess.Popen(
                [self.install.binary, str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "TZ": SERVER_TIMEZONE},
                cwd=self.directory,
            )
            log.close()
            if self._wait_until_up():
                return self
            self.stop()
        raise RuntimeError(f"Orthanc did not start; its log:\n{self.log()[-3000:]}")

    def _wait_until_up(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                if self.session.get(f"{self.url}/system", timeout=2).ok:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return False

    def log(self) -> str:
        path = self.directory / "orthanc.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> OrthancServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self.session.close()

    # -- the archive, through Orthanc's own REST API --------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.url}{path}", timeout=60, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def upload(self, data: bytes) -> dict[str, Any]:
        return self.call("POST", "/instances", data=data)

    def delete(self, level: str, orthanc_id: str) -> None:
        self.call("DELETE", f"/{level}/{orthanc_id}")

    def instance_keys(self) -> list[tuple[str, str, str]]:
        """Orthanc's own list of its instances: (study, series, sop UID), sorted."""
        studies = {s["ID"]: s for s in self.call("GET", "/studies", params={"expand": ""})}
        series = {s["ID"]: s for s in self.call("GET", "/series", params={"expand": ""})}
        keys = []
        for instance in self.call("GET", "/instances", params={"expand": ""}):
            parent = series[instance["ParentSeries"]]
            study = studies[parent["ParentStudy"]]
            keys.append(
                (
                    study["MainDicomTags"]["StudyInstanceUID"],
                    parent["MainDicomTags"]["SeriesInstanceUID"],
                    instance["MainDicomTags"]["SOPInstanceUID"],
                )
            )
        return sorted(keys)
