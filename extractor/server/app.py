"""The local imitation of an Azure DICOM service: start it, stop it, or run it in the foreground.

The HTTP side lives in ``handler`` (plumbing) and ``routes`` (what each path does); the archive
in ``store``; injected faults in ``faults``. This module only wires them together.
"""

from __future__ import annotations

import logging
import threading

from extractor.server.faults import FaultInjector
from extractor.server.handler import Server
from extractor.server.options import ServiceOptions
from extractor.server.routes import Handler
from extractor.server.store import DicomStore

log = logging.getLogger("extractor.server")


class LocalDicomService:
    """The local imitation of an Azure DICOM service, serving on a background thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        options: ServiceOptions | None = None,
        store: DicomStore | None = None,
    ) -> None:
        self.options = options or ServiceOptions()
        self.store = store or DicomStore()
        self.faults = FaultInjector()
        self._address = (host, port)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the service is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalDicomService:
        self._server = Server(self._address, self, Handler)
        # A short poll keeps stop() fast: shutdown() waits for the loop's next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="dicom-service", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._thread = None

    def wait(self) -> None:
        """Block until the server thread ends; Ctrl-C still gets through."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def __enter__(self) -> LocalDicomService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(host: str, port: int, options: ServiceOptions, load_samples: bool) -> None:
    """Run the service in the foreground until Ctrl-C (the ``dicom-lake serve`` command)."""
    service = LocalDicomService(host, port, options).start()
    log.info("local DICOM service listening on %s", service.url)
    try:
        if load_samples:
            from extractor.server.samples import load_samples as load

            result = load(service.url, token=options.require_token)
            log.info(
                "loaded %d sample instances; deleted %s; bulk-updated study %s",
                result.uploaded,
                result.deleted_sop_instance_uid,
                result.updated_study_instance_uid,
            )
        service.wait()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        service.stop()
