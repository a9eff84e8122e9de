"""The local JVM's class archive: the classes a pipeline run loads, parsed and verified once.

Every local run starts a JVM, and before its first query the JVM loads and verifies some
thousands of Spark classes from the jars. A dynamic class-data sharing archive
(https://openjdk.org/jeps/350) keeps them as the JVM uses them: a JVM started with it maps the
file instead. ``scripts/setup.sh`` builds it once per machine (``python -m
medallion.local.classcache``) by running the three jobs on a small generated sample in a job
host whose JVM writes the archive when it exits; ``jobs.common.runtime.get_spark`` then starts
every local JVM with it. Glue is not concerned: its JVM is Glue's.

A JVM maps an archive only when its own build and class path are those the archive was written
with; the archive's name holds a digest of both (``class_archive_path``), so after a Java or
PySpark upgrade no archive is found and runs start as they would without one until the next
set-up builds it again. A JVM killed while writing leaves a partial file, which would crash the
JVM that maps it: the archive is written under a temporary name and renamed only once the JVM
that wrote it has exited with the file whole.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from jobs.common.runtime import CLASS_ARCHIVE_SETTING, JAVA_OPTIONS, class_archive_path
from medallion.local.jobhost import JobHostRunner
from medallion.sample.generate import generate

TRAINING_LINES = 2000  # enough for every job's code path (quarantine, RFM, the value fit)


def train(archive: Path) -> None:
    """Run bronze, silver and gold on a generated sample in a job host whose JVM writes the
    classes it loaded to ``archive`` when it exits; return once it has."""
    with tempfile.TemporaryDirectory(prefix="medallion-classes-") as work:
        landing, lake = Path(work) / "landing", Path(work) / "lake"
        generate(landing, TRAINING_LINES, seed=7)
        env = {
            # Without its warnings (a class of a signed jar is not archived, say).
            "MEDALLION_JAVA_OPTIONS": f"{JAVA_OPTIONS} -XX:ArchiveClassesAtExit={archive}"
            " -Xlog:cds=off,cds+dynamic=off",
            CLASS_ARCHIVE_SETTING: "off",
        }
        run = {"lake_root": str(lake), "run_id": "classes", "landing_root": str(landing)}
        # Writing the archive takes the JVM some seconds after the jobs; the host waits.
        with JobHostRunner(env, close_seconds=300.0) as runner:
            for layer in ("bronze", "silver", "gold"):
                result = runner(layer, run)
                if result.state != "SUCCEEDED":
                    raise RuntimeError(f"the {layer} job failed: {result.error_message}")


def remove_stale(folder: Path) -> list[Path]:
    """Remove the partial archives (``.<name>.jsa.<pid>.tmp``) of builds killed before they
    cleaned up, keeping those of builds still running; the files removed."""
    removed = []
    for stale in folder.glob(".*.jsa.*.tmp"):
        pid = stale.name.rsplit(".", 2)[-2]
        if not (pid.isdigit() and _running(int(pid))):
            stale.unlink(missing_ok=True)
            removed.append(stale)
    return removed


def _running(pid: int) -> bool:
    """Whether a process has this id (signal 0 checks without sending; POSIX, not /proc).
    Elsewhere (Windows, where signal 0 would stop the process) every build counts as running."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def build(force: bool = False) -> Path | None:
    """Build the archive for this Java and these jars unless it exists; its path (None without
    Java)."""
    target = class_archive_path()
    if target is None:
        return None
    final = Path(target)
    if final.is_file() and not force:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(final.parent)
    partial = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    print("building the local JVM's class archive (once for this Java and these Spark jars: "
          "about a minute)", file=sys.stderr)  # fmt: skip
    try:
        train(partial)
        if not partial.is_file() or partial.stat().st_size == 0:
            raise RuntimeError("the JVM wrote no class archive")
        os.replace(partial, final)  # whole, at once: a reader never maps half a file
    finally:
        partial.unlink(missing_ok=True)
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m medallion.local.classcache",
        description="Build the local JVM's class archive for this Java and these Spark jars.",
    )
    parser.add_argument("--force", action="store_true", help="build it again if it exists")
    args = parser.parse_args(argv)
    try:
        path = build(args.force)
    except Exception as exc:  # an optimisation: set-up goes on without it
        print(f"no class archive was built: {exc}", file=sys.stderr)
        return 1
    if path is None:
        print("no class archive: Java was not found", file=sys.stderr)
        return 1
    print(f"class archive: {path} ({path.stat().st_size // 2**20} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
