"""Frozen entry point of `spacesync-gui` (windowed): spacesync_gui.__main__:main."""

import sys

from spacesync_gui.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
