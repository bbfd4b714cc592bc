"""Human-readable sizes, durations and times for tables, tooltips and the tray."""

from __future__ import annotations

import os
import time

_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def size(n: float | None) -> str:
    """Decimal units, like file managers: 1 KB = 1000 B."""
    if n is None:
        return ""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1000 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def speed(bytes_per_s: float | None) -> str:
    return f"{size(bytes_per_s)}/s" if bytes_per_s else ""


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = max(0, int(round(seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def when(ts: float | None, now: float | None = None) -> str:
    """A past or future moment relative to now: 'just now', '5 min ago', 'in 2 h'."""
    if ts is None:
        return ""
    now = time.time() if now is None else now
    delta = ts - now
    future = delta > 0
    d = abs(delta)
    if d < 45:
        text = "now" if future else "just now"
        return text
    if d < 3600:
        amount = f"{int(d // 60) or 1} min"
    elif d < 86400:
        amount = f"{int(d // 3600)} h"
    elif d < 7 * 86400:
        amount = f"{int(d // 86400)} d"
    else:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
    return f"in {amount}" if future else f"{amount} ago"


def stamp(ts: float | None) -> str:
    """An absolute local time for tooltips and the history table."""
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def short_stamp(ts: float | None, now: float | None = None) -> str:
    """Time only for today, date and time otherwise."""
    if ts is None:
        return ""
    now = time.time() if now is None else now
    if time.localtime(ts)[:3] == time.localtime(now)[:3]:
        return time.strftime("Today %H:%M:%S", time.localtime(ts))
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def home_path(path: str) -> str:
    """The path with the home folder written as ~ (how users think of their folders)."""
    home = os.path.expanduser("~")
    if home not in ("", "/") and (path == home or path.startswith(home + os.sep)):
        return "~" + path[len(home) :]
    return path


def endpoint(path: str) -> str:
    """A short but telling name for a folder: ~/Documents, …/Backup/Documents."""
    short = home_path(path)
    parts = [p for p in short.replace("\\", "/").split("/") if p]
    if len(parts) <= 2:
        return short
    return "…/" + "/".join(parts[-2:])
