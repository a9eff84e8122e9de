"""A job's output lines stay whole when datasets are processed side by side (issue 15), and a
failed Spark call is told by its Java cause.

Bronze and silver handle datasets in threads; every line they print goes through
``jobs.common.entry.say``. ``print`` writes the text and the newline apart, so two threads'
lines ran together in ``bronze.log``: with ``print`` in place of ``say`` the script below
merged about one line in six (392 of 2,400 when this test was written).
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from py4j.protocol import Py4JJavaError

from jobs.common.entry import java_failure

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


def test_a_failed_spark_call_is_told_by_its_java_cause(spark, tmp_path: Path) -> None:
    """A Py4JJavaError's own first line names only the Java call; the job's error line gives
    the deepest Java cause instead."""
    whole = gzip.compress("\n".join(f"line {i} {i * 7919 % 99991}" for i in range(20000)).encode())
    (tmp_path / "cut.txt.gz").write_bytes(whole[: len(whole) // 2])
    try:
        spark.read.text(str(tmp_path / "cut.txt.gz")).count()
    except Py4JJavaError as err:
        assert str(err).startswith("An error occurred while calling")
        assert java_failure(err) == "EOFException: Unexpected end of input stream"
    else:
        raise AssertionError("a gzip file cut short was read to its end")
    assert java_failure(ValueError("not from Java")) is None
