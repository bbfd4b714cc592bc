"""One run per conduit at a time, also across processes (CLI, daemon, GUI)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import Refused

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            return True
        except OSError:
            return False

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False


@contextlib.contextmanager
def conduit_lock(data_dir: Path, conduit_id: int) -> Iterator[None]:
    """Hold the conduit's lock file; refuse at once when another run holds it.

    The OS drops the lock when the holder dies (even by SIGKILL), so a crash never
    leaves a conduit locked.
    """
    lock_dir = data_dir / "locks"
    lock_dir.mkdir(exist_ok=True)
    fd = os.open(lock_dir / f"conduit-{conduit_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            raise Refused(f"conduit {conduit_id} is already being synced by another run")
        yield
    finally:
        os.close(fd)
