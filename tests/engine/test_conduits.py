"""Conduit settings: validation shared by the CLI and the editor, edits, clearing limits."""

from __future__ import annotations

import pytest

from spacesync_gui.engine import conduits
from spacesync_gui.engine.errors import NotFound, UserError
from spacesync_gui.engine.locations import list_locations


@pytest.fixture
def pair(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    return src, dst


def test_add_creates_locations_and_reuses_a_containing_one(library, pair, tmp_path):
    src, dst = pair
    (dst / "sub").mkdir()
    c = conduits.add_conduit(library, src, dst, "mirror")
    assert len(list_locations(library)) == 2
    (tmp_path / "other").mkdir()
    c2 = conduits.add_conduit(library, dst / "sub", tmp_path / "other", "bidirectional")
    # dst/sub lies inside the dst location: no new location for it.
    assert c2.source_location_id == c.target_location_id and c2.source_prefix == "sub"
    assert len(list_locations(library)) == 3


def test_edit_and_clear_limits(library, pair):
    src, dst = pair
    c = conduits.add_conduit(library, src, dst, "mirror", bwlimit=5, keep_versions_days=30)
    c = conduits.edit_conduit(library, c.id, transfers=2)
    assert (c.bwlimit, c.keep_versions_days, c.transfers) == (5.0, 30, 2)
    c = conduits.edit_conduit(library, c.id, clear={"bwlimit", "keep_versions_days"})
    assert (c.bwlimit, c.keep_versions_days) == (None, None)
    with pytest.raises(UserError):
        conduits.edit_conduit(library, c.id, clear={"mode"})
    with pytest.raises(NotFound):
        conduits.edit_conduit(library, 99, name="x")


@pytest.mark.parametrize(
    "kw",
    [
        {"mode": "both"},
        {"schedule": "hourly"},
        {"schedule": "interval:0m"},
        {"conflict": "coin-flip"},
        {"deletes": "shred"},
        {"transfers": 0},
        {"transfers": 999},
        {"bwlimit": 0},
        {"keep_versions_count": 0},
        {"name": "  "},
        {"ignore": ["a\nb"]},
    ],
)
def test_invalid_settings_are_refused_with_a_message(kw):
    with pytest.raises(UserError) as e:
        conduits.validate_settings(**kw)
    assert str(e.value) and "\n" not in str(e.value)


def test_endpoints_must_be_distinct_folders(pair, tmp_path):
    src, dst = pair
    (src / "inner").mkdir()
    f = tmp_path / "file"
    f.write_text("x")
    for a, b in (
        (src, src),
        (src, src / "inner"),
        (src / "inner", src),
        (src, f),
        (src, tmp_path / "missing"),
    ):
        with pytest.raises(UserError):
            conduits.validate_endpoints(a, b)
    assert conduits.validate_endpoints(src, dst) == (src.resolve(), dst.resolve())
