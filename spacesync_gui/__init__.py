"""SpaceSync: index-driven folder sync (engine in `engine/`, desktop app in `ui/`)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spacesync")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
