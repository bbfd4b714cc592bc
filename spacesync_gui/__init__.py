"""SpaceSync: index-driven folder sync (engine in `engine/`, desktop app in `ui/`)."""

# Kept equal to pyproject.toml's [project] version by tests/test_version.py. A literal, not
# importlib.metadata: that import alone cost ~50 ms of every CLI start.
__version__ = "0.1.0"
