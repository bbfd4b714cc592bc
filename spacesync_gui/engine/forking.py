"""Fork a child that runs one function, where fork is safe.

Shared by the forked scans, the copy workers and their helper, and the quick no-op sync
(SQLAlchemy-free, for the latter).
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .db import Library


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


class ForkedJob:
    """`fn(lib)` running in a forked child; `result()` waits for what it returned.

    `close`: descriptors of this process the child must not keep open (the CopyHelper's
    pipes, when the helper forks it)."""

    def __init__(self, lib: Library, fn: Callable[[Library], Any], close: Sequence[int] = ()):
        read_fd, write_fd = os.pipe()

        def child() -> None:  # the parent redoes the work if this fails
            os.close(read_fd)
            for fd in close:
                os.close(fd)
            # Fresh connections: the parent's SQLite connections must not be touched.
            lib.forget_connections()
            payload = pickle.dumps(fn(lib))
            with os.fdopen(write_fd, "wb") as out:
                out.write(payload)

        pid = fork_child(child)
        os.close(write_fd)
        self._pid = pid
        self._read_fd = read_fd

    def result(self) -> Any:
        """What the child's `fn` returned; raises ChildFailed if it did not finish."""
        with os.fdopen(self._read_fd, "rb") as f:
            data = f.read()
        _, status = os.waitpid(self._pid, 0)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not data:
            raise ChildFailed(f"the forked process ended with status {status}")
        return pickle.loads(data)


class ChildFailed(Exception):
    """The forked child did not deliver (crashed, killed, or its work raised)."""
