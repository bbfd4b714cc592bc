"""Frozen entry point of the `spacesync` command (console): spacesync_gui.cli:entry."""

from spacesync_gui.cli import entry

if __name__ == "__main__":
    entry()
