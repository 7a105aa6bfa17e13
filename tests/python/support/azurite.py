"""Azurite, the Azure Blob storage emulator, on 127.0.0.1 for tests.

Installed from the repository's package.json (`npm ci`); started in memory on a free port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from support import REPOSITORY
from support.dicom_factory import free_port

BIN = REPOSITORY / "node_modules" / ".bin" / "azurite-blob"
# Azurite's documented development account: public, not a secret.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_API_VERSION = "2021-08-06"


class AzuriteUnavailable(RuntimeError):
    """Node or npm is missing, so the emulator cannot run here."""


@dataclass
class Azurite:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/{ACCOUNT}"

    def create_container(self, name: str) -> None:
        """PUT a container, signed with the account key like any Azure client would."""
        date = formatdate(usegmt=True)
        headers = {"x-ms-date": date, "x-ms-version": _API_VERSION, "Content-Length": "0"}
        canonical_headers = f"x-ms-date:{date}\nx-ms-version:{_API_VERSION}\n"
        resource = f"/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container"
        to_sign = "PUT\n\n\n\n\n\n\n\n\n\n\n\n" + canonical_headers + resource
        digest = hmac.new(base64.b64decode(ACCOUNT_KEY), to_sign.encode(), hashlib.sha256).digest()
        headers["Authorization"] = f"SharedKey {ACCOUNT}:{base64.b64encode(digest).decode()}"
        request = urllib.request.Request(
            f"{self.endpoint}/{name}?restype=container", method="PUT", headers=headers
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status != 201:
                raise RuntimeError(f"creating container {name}: HTTP {response.status}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def ensure_installed() -> Path:
    """The azurite-blob launcher, running `npm ci` first if node_modules is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise AzuriteUnavailable("node and npm are needed to run Azurite (npm package azurite)")
    if not BIN.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=REPOSITORY,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return BIN


def start(workdir: Path, host: str = "127.0.0.1", timeout: float = 60.0) -> Azurite:
    launcher = ensure_installed()
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port(host)
    log = workdir / "azurite.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [
                str(launcher),
                "--blobHost",
                host,
                "--blobPort",
                str(port),
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--silent",
            ],
            cwd=workdir,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    azurite = Azurite(host, port, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Azurite exited with {process.returncode}: {log.read_text()}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return azurite
        except OSError:
            time.sleep(0.2)
    azurite.stop()
    raise RuntimeError(f"Azurite did not listen on {host}:{port} within {timeout}s")
