"""`spacesync-gui [--data-dir DIR] [--minimized]`: arguments -> paths -> logging -> GUI.

Nothing runs at import; Qt is imported only once the arguments are known to be good.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import multiprocessing
import sys
from pathlib import Path

LOG_FILE = "spacesync-gui.log"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="spacesync-gui", description="SpaceSync: keep folders in sync."
    )
    parser.add_argument("--data-dir", metavar="DIR", help="where the library and settings live")
    parser.add_argument(
        "--minimized", action="store_true", help="start in the tray without showing the window"
    )
    return parser.parse_args(argv)


def setup_logging(data_dir: Path) -> Path:
    """A rotating log file in the data dir, plus stderr when there is one."""
    path = data_dir / LOG_FILE
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    ]
    if sys.stderr is not None:  # a windowed frozen app has none
        handlers.append(logging.StreamHandler())
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    return path


def main(argv: list[str] | None = None) -> int:
    # A frozen app starts its engine process by running itself: serve that, then exit.
    multiprocessing.freeze_support()
    args = parse_args(argv)
    from spacesync_gui.engine.paths import resolve_data_dir

    explicit = Path(args.data_dir).expanduser().absolute() if args.data_dir else None
    data_dir = resolve_data_dir(args.data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        setup_logging(data_dir)
    except OSError as e:
        print(f"spacesync-gui: cannot use data dir {data_dir}: {e.strerror or e}", file=sys.stderr)
        return 2

    from spacesync_gui.ui.app import run

    return run(data_dir, explicit_data_dir=explicit, minimized=args.minimized)


if __name__ == "__main__":
    sys.exit(main())
