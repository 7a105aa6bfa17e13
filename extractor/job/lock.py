"""One run at a time per lake: an exclusive lock on `<lake>/.dicom-lake.lock`.

The lock is an flock(2) lock, which the kernel releases when its process ends, however it ends:
a run killed with SIGKILL leaves the file behind but never a held lock. The file names the run
that holds it, so a second run can say who is busy, and the next run can tell that the last
holder ended without cleaning up. It needs a local file system (flock over NFS is not reliable).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from extractor.lake import Lake

log = logging.getLogger(__name__)


class LakeBusy(Exception):
    """Another run holds the lake's lock."""


class UnsafeLock(Exception):
    """The lock's path is not a plain file of the lake (a symbolic link)."""


@contextmanager
def run_lock(lake: Lake, run_id: str, command: str) -> Iterator[None]:
    lake.root.mkdir(parents=True, exist_ok=True)
    path = lake.lock
    try:
        # Never through a link: truncating and writing the lock would empty the link's target.
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as error:
        if error.errno != errno.ELOOP:
            raise
        raise UnsafeLock(
            f"{path} is a symbolic link; the run lock is refused so that it never writes "
            "through it to another file: remove the link"
        ) from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(os.pread(descriptor, 4096, 0))
            raise LakeBusy(f"another dicom-lake run is using {lake.root}: {holder}") from None
        left_behind = os.pread(descriptor, 4096, 0)
        if left_behind:
            log.warning(
                "taking over the lock of a run that ended without releasing it: %s",
                _describe(left_behind),
            )
        ours = {
            "run_id": run_id,
            "command": command,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(ours).encode(), 0)
        try:
            yield
        finally:
            # An empty file means "released cleanly"; the flock goes with the descriptor.
            os.ftruncate(descriptor, 0)
    finally:
        os.close(descriptor)


def _describe(content: bytes) -> str:
    try:
        holder = json.loads(content)
        return (
            f"run {holder['run_id']} ({holder['command']}, pid {holder['pid']} on "
            f"{holder['host']}, started {holder['started']})"
        )
    except (ValueError, KeyError, TypeError):
        return "a run that left no details"
