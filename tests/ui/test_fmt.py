import os
import time

from spacesync_gui.ui import fmt


def test_sizes_durations_and_times():
    assert fmt.size(999) == "999 B"
    assert fmt.size(1_500_000) == "1.5 MB"
    assert fmt.speed(2_000_000) == "2.0 MB/s"
    assert fmt.duration(65) == "1:05" and fmt.duration(3725) == "1:02:05"
    now = time.time()
    assert fmt.when(now - 10, now) == "just now"
    assert fmt.when(now - 300, now) == "5 min ago"
    assert fmt.when(now + 7200, now) == "in 2 h"
    assert fmt.short_stamp(now, now).startswith("Today ")


def test_paths_are_shortened_for_tables():
    home = os.path.expanduser("~")
    assert fmt.home_path(os.path.join(home, "Documents")) == "~/Documents"
    assert fmt.endpoint(os.path.join(home, "Documents")) == "~/Documents"
    assert fmt.endpoint("/media/usb/Backup/Documents") == "…/Backup/Documents"
    assert fmt.endpoint("/srv") == "/srv"
