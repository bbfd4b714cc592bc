"""Ignore rules: gitignore-style patterns (pathspec) plus the built-in ignores.

Built-ins are checked by name (a set lookup), because they apply to every item of every
scan; pathspec only runs when the user gave patterns. Directory keys are matched with a
trailing `/` so that `build/` ignores the folder `build` and everything below it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .errors import UserError
from .paths import META_DIR, TMP_PREFIX

BUILTIN_NAMES = frozenset({META_DIR, ".DS_Store", "Thumbs.db", "desktop.ini"})
BUILTIN_PATTERNS = (f"{META_DIR}/", ".DS_Store", "Thumbs.db", "desktop.ini", "~$*", ".~lock.*#")


def builtin_ignored(name: str) -> bool:
    return (
        name in BUILTIN_NAMES
        or name.startswith("~$")
        or name.startswith(TMP_PREFIX)
        or (name.startswith(".~lock.") and name.endswith("#"))
    )


def validate_patterns(patterns: Iterable[str]) -> list[str]:
    """Return the patterns, or raise UserError naming the first invalid one."""
    out = []
    for p in patterns:
        if not p or not p.strip() or any(c in p for c in "\0\n\r"):
            raise UserError(f"invalid ignore pattern {p!r}: it must be a non-empty single line")
        if p.strip() in ("!", "/", "!/"):
            raise UserError(f"invalid ignore pattern {p!r}: it names nothing")
        if p.count("[") != p.count("]"):
            raise UserError(f"invalid ignore pattern {p!r}: unbalanced brackets")
        try:
            spec = _spec_of([p])
            for pat in spec.patterns:
                regex = getattr(pat, "regex", None)
                if regex is not None and not isinstance(regex, re.Pattern):
                    re.compile(regex)
        except (re.error, ValueError, TypeError) as e:
            raise UserError(f"invalid ignore pattern {p!r}: {e}") from None
        out.append(p)
    return out


def _spec_of(patterns: list[str]) -> Any:
    # Imported here: most locations have no patterns, and a quick no-op sync
    # (quick_noop.py) should not pay for loading pathspec.
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns)


class IgnoreRules:
    """Decides whether a key (relative path) is ignored."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.patterns = list(patterns)
        self._spec = _spec_of(self.patterns) if self.patterns else None

    def __bool__(self) -> bool:
        return self._spec is not None

    def ignored(self, key: str, is_dir: bool = False) -> bool:
        name = key.rsplit("/", 1)[-1]
        if builtin_ignored(name):
            return True
        if self._spec is None:
            return False
        return self._spec.match_file(key + "/" if is_dir else key)

    def user_ignored(self, key: str, is_dir: bool = False) -> bool:
        """Only the user's patterns (for filtering snapshots that are already indexed)."""
        return self._spec is not None and self._spec.match_file(key + "/" if is_dir else key)


def leaves_out(patterns: Iterable[str], key: str) -> bool:
    """Whether a location with these patterns ignores the folder at `key` (or one above it):
    its scans never index what is there."""
    rules = IgnoreRules(patterns)
    parts = key.split("/") if key else []
    return any(rules.ignored("/".join(parts[:i]), is_dir=True) for i in range(1, len(parts) + 1))


class PlanRules:
    """What a conduit's plan leaves alone: the conduit's patterns (keys relative to its
    endpoints) and each endpoint location's own patterns (relative to that location's root,
    as its scans apply them). An item one location does not index is then neither copied
    into it nor, being absent from its index, deleted on the other side."""

    def __init__(self, conduit: Iterable[str], locations: Iterable[tuple[str, Iterable[str]]]):
        """`locations`: (endpoint prefix inside the location, the location's patterns)."""
        self.conduit = IgnoreRules(conduit)
        self.locations = [
            (prefix, rules) for prefix, pats in locations if (rules := IgnoreRules(pats))
        ]

    def __bool__(self) -> bool:
        return bool(self.conduit) or bool(self.locations)

    def user_ignored(self, key: str, is_dir: bool = False) -> bool:
        if self.conduit.user_ignored(key, is_dir):
            return True
        return any(
            rules.user_ignored(f"{prefix}/{key}" if prefix else key, is_dir)
            for prefix, rules in self.locations
        )
