"""`spacesync daemon` as a real subprocess: start, sync on change, SIGTERM, clean exit."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tests.engine.test_runtime import wait_for


def test_daemon_syncs_on_change_and_stops_on_sigterm(tmp_path, data_dir):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    cli = [sys.executable, "-m", "spacesync_gui.cli", "--data-dir", str(data_dir)]
    subprocess.run(
        [*cli, "conduit", "add", str(src), str(dst), "--mode", "mirror", "--schedule", "instant"],
        check=True,
        capture_output=True,
    )
    proc = subprocess.Popen(
        [*cli, "daemon"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        time.sleep(1.0)
        (src / "hello.txt").write_text("hello")
        wait_for(lambda: (dst / "hello.txt").exists(), timeout=30, what="the instant sync")
        assert (dst / "hello.txt").read_text() == "hello"
        # The file is in place before the run has verified and recorded it: a SIGTERM
        # now would stop the run (reported failed, rightly). Stop once it is over.
        log_file = data_dir / "spacesync.log"
        wait_for(
            lambda: "finished: completed, 1 copied" in log_file.read_text(),
            timeout=30,
            what="the end of the run",
        )
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert time.monotonic() - started < 15
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "daemon stopped" in err
    log = (data_dir / "spacesync.log").read_text()
    assert "daemon started" in log and "finished: completed, 1 copied" in log
