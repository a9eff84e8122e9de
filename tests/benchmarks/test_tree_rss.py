"""The benchmarks' memory figure: the resident set of a process tree, each address space once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from pipeline_benchmark import Proc, processes, tree_bytes, tree_rss

GIB = 2**30
JVM_LAYOUT = ("94000000000000", "94000000004096", "140730000000000")


def vm_rss(pid: int) -> int:
    """VmRSS of /proc/<pid>/status, in bytes: read another way than tree_rss reads it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


HOLDER = """
import subprocess, sys
b = bytearray({mib} * 2**20)
kid = None
if {nest}:
    kid = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    kid.stdout.readline()
print(kid.pid if kid else 0, flush=True)
sys.stdin.read()
"""


def test_a_real_tree_counts_each_process() -> None:
    """A process holding 200 MiB with a child holding 100 MiB: the tree is both, as their
    /proc/<pid>/status says (the test's own process has other children in a test session)."""
    grandchild = HOLDER.format(mib=100, nest=False)
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(mib=200, nest=True), grandchild],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        kid = int(child.stdout.readline())
        counted = tree_rss(child.pid)
        expected = vm_rss(child.pid) + vm_rss(kid)
        assert counted > 300 * 2**20
        assert abs(counted - expected) < 16 * 2**20  # both read within moments of each other
        assert processes()[kid].parent == child.pid
    finally:
        child.communicate("")


def test_a_jvm_spawning_a_command_is_counted_once() -> None:
    """What /proc showed in a full refresh (27 of 1,278 samples): the JVM's child in
    posix_spawn, before it runs its program, with the JVM's name, layout and resident set."""
    table = {
        100: Proc(1, "medallion", ("1", "2", "3"), GIB // 4),
        200: Proc(100, "java", JVM_LAYOUT, 2 * GIB),
        300: Proc(200, "java", JVM_LAYOUT, 2 * GIB),  # mid-spawn: the JVM's own address space
    }
    assert tree_bytes(table, 100) == GIB // 4 + 2 * GIB


def test_other_children_count_in_full() -> None:
    table = {
        100: Proc(1, "medallion", ("1", "2", "3"), GIB // 4),
        200: Proc(100, "java", JVM_LAYOUT, 2 * GIB),
        # A JVM the JVM started (the same program at the same addresses, but a stack of its
        # own), and the chmod it ran.
        300: Proc(200, "java", ("94000000000000", "94000000004096", "140731234567000"), GIB),
        301: Proc(200, "chmod", ("5", "6", "7"), 2**20),
        # A Python worker forked from a Python daemon keeps its parent's layout: it is a process
        # of its own (copy on write), and counts.
        400: Proc(100, "python3", ("1", "2", "3"), 100 * 2**20),
        401: Proc(400, "python3", ("1", "2", "3"), 100 * 2**20),
        500: Proc(1, "elsewhere", ("1", "2", "3"), 5 * GIB),  # not in the tree
    }
    assert tree_bytes(table, 100) == GIB // 4 + 2 * GIB + GIB + 2**20 + 200 * 2**20
    assert tree_bytes(table, 999) == 0  # a process already gone
