"""A job's output lines stay whole when datasets are processed side by side (issue 15).

Bronze and silver handle datasets in threads; every line they print goes through
``jobs.common.entry.say``. ``print`` writes the text and the newline apart, so two threads'
lines ran together in ``bronze.log``: with ``print`` in place of ``say`` the script below
merged about one line in six (392 of 2,400 when this test was written).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

THREADS, LINES = 6, 400

SCRIPT = textwrap.dedent(
    f"""
    import sys, threading
    sys.path.insert(0, {str(REPO)!r})
    from jobs.common.entry import say

    def worker(thread):
        for i in range({LINES}):
            say(f"t{{thread}}-{{i}}-" + "x" * (50 + (i * 997) % 9000))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range({THREADS})]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    """
)


def test_lines_from_threads_never_run_together() -> None:
    # stdout is a pipe, as when the runner reads a job's output into its log
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    lines = done.stdout.splitlines()
    assert len(lines) == THREADS * LINES
    seen = set()
    for line in lines:
        match = re.fullmatch(r"t(\d)-(\d+)-(x+)", line)
        assert match, f"a line ran into another: {line[:80]}..."
        thread, i = int(match.group(1)), int(match.group(2))
        assert len(match.group(3)) == 50 + (i * 997) % 9000
        seen.add((thread, i))
    assert len(seen) == THREADS * LINES
