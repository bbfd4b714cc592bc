"""Frozen entry point of the `spacesync` command (console): spacesync_gui.cli:main."""

import sys

from spacesync_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
