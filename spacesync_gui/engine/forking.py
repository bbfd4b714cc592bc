"""Fork a child that runs one function, where fork is safe.

Shared by the forked scans, the copy workers and their helper, and the quick no-op sync
(SQLAlchemy-free, for the latter).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


def can_fork() -> bool:
    """A POSIX system, and no other thread in this process (a fork copies only the
    calling thread: a lock another thread held would stay locked in the child)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def fork_child(child: Callable[[], object]) -> int:
    """Fork; the child runs `child()` and leaves with os._exit: status 0 if it returned, 1
    if it raised (never running the parent's clean-up: its atexit handlers, its SQLite
    connections, its buffered output). Returns the child's pid, in the parent."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            child()
            code = 0
        except BaseException:  # noqa: BLE001 - the parent tells from the status / the pipe
            pass
        finally:
            os._exit(code)
    return pid
