"""The command starts lean: what every command imports leaves out the heavy libraries.

`medallion run` starts its job host (a JVM, seconds to warm) as soon as it has parsed its
options; every library imported before that delays the first job. pandas (about 0.3 s), PySpark
and moto are imported where they are used: by the host, by moto's set-up once the host is
starting, and where rows are shown. Each command imports what it needs when it runs: the AWS
SDK, DuckDB, sqlglot and troposphere are not loaded for `medallion --help` or by a command that
does not call them.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "pyspark", "moto", "scipy", "awswrangler")
# Loaded by the commands that use them, not by every command (about 0.6 s together).
BY_COMMAND = ("boto3", "botocore", "duckdb", "sqlglot", "troposphere", "numpy", "pyarrow")


def imported(modules: str, wanted: tuple[str, ...]) -> str:
    """Which of ``wanted`` a fresh interpreter has loaded after importing ``modules``."""
    probe = f"import sys, {modules}; print(','.join(m for m in {wanted!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_command_leaves_out_the_heavy_libraries() -> None:
    loaded = imported("medallion.cli.app", HEAVY + BY_COMMAND)
    assert loaded == "", f"imported with the command: {loaded}"


def test_the_job_host_starts_before_the_run_is_imported() -> None:
    """`medallion run` enters medallion.local.jobhost.launching_jobs before it imports the rest of
    the run, and the host's worker starts its JVM before it imports the job launcher: neither
    import pulls in the AWS SDK, moto, troposphere or PySpark (the worker imports PySpark to start
    Spark, when it runs)."""
    wanted = ("boto3", "moto", "troposphere", "pyspark", "duckdb")
    loaded = imported("medallion.local.jobhost, medallion.local.jobworker", wanted)
    assert loaded == "", f"imported with the job host: {loaded}"
