"""The README check: run every command README.md shows for a laptop and check what it says of each.

Every command of the README's ```bash blocks is accounted for here, either in CHECKS (run in a
temporary directory on small generated data, with the venv's ``medallion`` first on PATH, and its
outputs held to what the README says, each claim with the README line it comes from) or in SKIPS
(with the reason: AWS, or the two top-level scripts). A README command in neither fails the check,
so a new command must be covered; a CHECKS or SKIPS entry no README command matches fails too.

The commands run in README order on one lake (``./lake`` of the working directory): generate at
800 order lines (seed 3), ``medallion run`` as each of the README's four lines shows it, then the
analysts' commands on that lake. Used by ``tests/test_readme_commands.py``.

    .venv/bin/python scripts/readme_check.py [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
DATASETS = ("order_lines", "customers", "products", "inventory", "reviews")
LAYERS = ("bronze", "silver", "gold")
COMMAND_TIMEOUT = 900


@dataclass
class Result:
    """What one command did, in the working directory ``cwd``."""

    cwd: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float


# An extra check: the problems it finds (empty when the claim holds).
Extra = Callable[[Result], list[str]]


@dataclass(frozen=True)
class Check:
    """A README command, how it is run here, and what the README says it does."""

    command: str  # exactly as the README shows it, without its comment
    source: str  # the README sentence the claims below come from
    run_as: str = ""  # the command as run here (small data, free port); "" is as shown
    stdout: tuple[str, ...] = ()  # in its standard output
    stderr: tuple[str, ...] = ()  # in its standard error
    files: tuple[str, ...] = ()  # non-empty files it leaves, relative to the working directory
    extra: tuple[Extra, ...] = field(default=())


@dataclass(frozen=True)
class Skip:
    """README commands starting with ``prefix`` are not run, for ``reason``."""

    prefix: str
    reason: str


# ---------------------------------------------------------------------------- extra checks


def _logs_hold_summaries(run_id: str | None) -> Extra:
    """README: each layer's whole output, ``MEDALLION_SUMMARY`` line too, is in
    ``<lake>/_meta/logs/<run id>/<layer>.log``."""

    def check(result: Result) -> list[str]:
        logs = result.cwd / "lake" / "_meta" / "logs"
        runs = [logs / run_id] if run_id else _run_dirs_of(result)
        problems = []
        for run in runs:
            for layer in LAYERS:
                log = run / f"{layer}.log"
                text = log.read_text() if log.is_file() else ""
                if "MEDALLION_SUMMARY" not in text:
                    problems.append(f"{log} holds no MEDALLION_SUMMARY line")
        return problems or ([] if runs else [f"no run's logs under {logs}"])

    return check


def _run_dirs_of(result: Result) -> list[Path]:
    """The log directories of the runs a command's output names (``run <id>`` in the ledger)."""
    logs = result.cwd / "lake" / "_meta" / "logs"
    named = set(re.findall(r"\b(run-\d{8}T\d{6}Z-[0-9a-f]+)\b", result.stdout))
    return [logs / name for name in sorted(named) if (logs / name).is_dir()]


def _latest_gold_summary(result: Result) -> dict[str, object]:
    logs = sorted((result.cwd / "lake" / "_meta" / "logs").glob("*/gold.log"), key=_mtime)
    lines = logs[-1].read_text().splitlines() if logs else []
    summaries = [line for line in lines if line.startswith("MEDALLION_SUMMARY ")]
    return json.loads(summaries[-1].split(" ", 1)[1]) if summaries else {}


def _mtime(path: Path) -> float:
    return path.stat().st_mtime


def _gold_full_refresh(result: Result) -> list[str]:
    """README: ``--full-refresh`` and ``--observation-end`` reach the gold job."""
    summary = _latest_gold_summary(result)
    want = {"full_refresh": True, "observation_end": "2011-12-09"}
    got = {key: summary.get(key) for key in want}
    return [] if got == want else [f"the gold job's summary has {got}, not {want}"]


def _recomputed(result: Result) -> list[str]:
    """docs/layers.md: a full refresh recomputes silver from every bronze batch."""
    return ["a full refresh said nothing new arrived"] if "Nothing new" in result.stdout else []


def _history_json(result: Result) -> list[str]:
    """README: ``--json > history.json`` writes the execution history, for scripts."""
    try:
        data = json.loads((result.cwd / "history.json").read_text())
    except (OSError, ValueError) as error:
        return [f"history.json is not JSON: {error}"]
    problems = []
    if data.get("status") != "SUCCEEDED":
        problems.append(f"history.json status is {data.get('status')!r}, not 'SUCCEEDED'")
    if not isinstance(data.get("history"), list) or not data["history"]:
        problems.append("history.json has no execution history ('history' events)")
    gold = (data.get("summaries") or {}).get("gold") or {}
    if gold.get("full_refresh") is not False:
        refresh = gold.get("full_refresh")
        problems.append(f"a run without --full-refresh reports full_refresh {refresh}")
    return problems


def _landing_written(out: str) -> Extra:
    """README: the five datasets and a manifest of what silver must report."""

    def check(result: Result) -> list[str]:
        landing = result.cwd / out
        missing = [ds for ds in DATASETS if not any((landing / ds).glob("*.*"))]
        return [f"{landing} has no files for {', '.join(missing)}"] if missing else []

    return check


def _csv_header(path: str, header: str) -> Extra:
    def check(result: Result) -> list[str]:
        lines = (result.cwd / path).read_text().splitlines()
        first = lines[0] if lines else ""
        problems = [] if first.startswith(header) else [f"{path} starts {first!r}"]
        return problems + ([] if len(lines) > 1 else [f"{path} has no rows"])

    return check


def _no_data_on_stdout(result: Result) -> list[str]:
    """README: with ``--output FILE`` the rows go to the file, the row count to stderr."""
    return [f"stdout is not empty: {result.stdout[:200]!r}"] if result.stdout.strip() else []


def _is_template(path: str) -> Extra:
    def check(result: Result) -> list[str]:
        text = (result.cwd / path).read_text()
        return [] if "AWSTemplateFormatVersion" in text else [f"{path} is no CloudFormation"]

    return check


def _no_states_failed(result: Result) -> list[str]:
    bad = [line for line in result.stdout.splitlines() if re.search(r"\bFAILED\b", line)]
    bad += [line for line in result.stdout.splitlines() if re.search(r"│ no\s+│", line)]
    return [f"the run printed: {line.strip()}" for line in bad]


# ---------------------------------------------------------------------------- the table

RUN_STATES = ("> Bronze job", "< Bronze job (", "< Silver job (", "< Gold job (", "< Views (")
SUMMARY_TABLE = ("Pipeline run", "state", "status", "duration", "rows in", "rows out")
LEDGER = ("Conservation ledger: bronze rows in = silver + quarantined + duplicates", "balanced")
RUN_SOURCE = (
    "README 'Run it locally': `medallion run` ... prints each state as it is entered and left "
    "(time since the start, time inside), then a summary table (state, status, duration, rows "
    "in and out ...), then this run's conservation ledger. Exit status 0 when the execution "
    "SUCCEEDED and the ledger balances; job output in `<lake>/_meta/logs/<run id>/<layer>.log`"
)
NOTHING_NEW = "Nothing new arrived: run {run} recorded no silver run. The latest ledger, of run"
NOTHING_NEW_SOURCE = (
    "README 'Run it locally': A run with nothing new in landing says so and shows the latest "
    "run's ledger."
)
DASHBOARD_PORT = "{port}"

CHECKS: tuple[Check, ...] = (
    Check(
        "medallion generate --out lake/landing --order-lines 5000",
        "README table 'medallion generate': sample landing data with defects at documented "
        "counts; 'Sample data': the five datasets ... and a manifest of what silver must report",
        run_as="medallion generate --out lake/landing --order-lines 800 --seed 3",
        stdout=("what silver should report", "order_lines", "reviews"),
        files=("lake/landing/_generator_manifest.json",),
        extra=(_landing_written("lake/landing"),),
    ),
    Check(
        "medallion run",
        RUN_SOURCE + "; comment: lake ./lake, landing ./lake/landing",
        stdout=(
            "medallion run lake=lake landing=lake/landing",
            *RUN_STATES,
            "execution SUCCEEDED",
            *SUMMARY_TABLE,
            *LEDGER,
            *DATASETS,
        ),
        extra=(_no_states_failed, _logs_hold_summaries(None)),
    ),
    Check(
        "medallion run --landing ~/drop --lake /data/lake --run-id 2011-12-09 "
        "--datasets order_lines,products",
        NOTHING_NEW_SOURCE + " (the lake of the run above, its landing again: nothing new)",
        run_as="medallion run --landing lake/landing --lake lake --run-id 2011-12-09 "
        "--datasets order_lines,products",
        stdout=(
            "execution SUCCEEDED",
            *SUMMARY_TABLE,
            NOTHING_NEW.format(run="2011-12-09"),
            *LEDGER,
        ),
        extra=(_no_states_failed, _logs_hold_summaries("2011-12-09")),
    ),
    Check(
        "medallion run --observation-end 2011-12-09 --full-refresh",
        RUN_SOURCE + "; docs/layers.md: `--full_refresh` `true` recomputes everything from the "
        "layer below (so not 'nothing new': silver is rebuilt from all of bronze); "
        "docs/gold.md: `full_refresh` (and `observation_end`) in gold's MEDALLION_SUMMARY",
        stdout=("execution SUCCEEDED", *SUMMARY_TABLE, *LEDGER, *DATASETS),
        extra=(_no_states_failed, _recomputed, _gold_full_refresh),
    ),
    Check(
        "medallion run --json > history.json",
        "README 'Run it locally': `medallion run --json > history.json`  # the execution "
        "history, for scripts",
        files=("history.json",),
        extra=(_history_json,),
    ),
    Check(
        'medallion query "select * from v_monthly_revenue order by sales_month desc limit 12"',
        "README 'medallion query': Output: a table ...; the row count ... go[es] to stderr; "
        "'The views': v_monthly_revenue's columns",
        stdout=("sales_month", "country", "net_revenue", "mom_growth", "is_partial_month"),
        stderr=("12 rows (local DuckDB catalog)",),
    ),
    Check(
        'medallion query --format csv --output segments.csv "select * from v_customer_segments"',
        "README 'medallion query': `--format csv|json|parquet` to stdout or `--output FILE`; the "
        "row count ... to stderr; 'The views': v_customer_segments' columns",
        stderr=("rows (local DuckDB catalog)",),
        files=("segments.csv",),
        extra=(
            _no_data_on_stdout,
            _csv_header(
                "segments.csv",
                "segment,customer_count,customer_share,revenue,revenue_share,avg_recency_days",
            ),
        ),
    ),
    Check(
        "medallion report",
        "README 'medallion report': the monthly revenue trend with growth (all countries), the "
        "top segments by revenue, inventory alerts by kind, and per dataset the quality rules "
        "passing, warning, quarantining rows and blocking the run, with the latest run's row "
        "ledger",
        stdout=(
            "Monthly revenue, all countries",
            "mom_growth",
            "Customer segments by revenue",
            "Inventory alerts",
            "alert_type",
            "Data quality per dataset",
            "passed",
            "warned",
            "quarantining",
            "blocking",
            "rows_in",
            *DATASETS,
        ),
    ),
    Check(
        "medallion dashboard",
        "README 'medallion dashboard': `medallion dashboard [--lake DIR] [--port 8501]` serves a "
        "Streamlit app on 127.0.0.1 only (started, answered over HTTP, stopped with SIGTERM: the "
        "port is free again)",
        run_as="medallion dashboard --port {port}",
        stdout=("http://127.0.0.1:{port}/",),
    ),
    Check(
        "medallion synth --env dev --out stack.yaml",
        "README 'Deploying to AWS', step 3: `medallion synth --env dev --out stack.yaml`  # or "
        "stack.json; no AWS calls (run with no AWS credentials or region)",
        stderr=("wrote stack.yaml (yaml,",),
        files=("stack.yaml",),
        extra=(_is_template("stack.yaml"),),
    ),
    Check(
        "medallion generate --out sample/landing --order-lines 50000 --seed 42",
        "README 'Deploying to AWS', step 5: the sample landing that is then synced to S3 (the "
        "generate step is local)",
        run_as="medallion generate --out sample/landing --order-lines 800 --seed 42",
        files=("sample/landing/_generator_manifest.json",),
        extra=(_landing_written("sample/landing"),),
    ),
)

AWS = "needs AWS (an account, credentials, a deployed stack); on moto in "
DEPLOY_TESTS = AWS + "tests/medallion/aws/test_deploy_moto.py"
RUN_TESTS = AWS + "tests/medallion/cli/commands/test_pipeline_operations.py"
DATABASE_TESTS = (
    "needs a PostgreSQL server with a user who may create tables; typed as shown against one on "
    "127.0.0.1 in tests/jdbc/test_laptop_path.py"
)
SKIPS: tuple[Skip, ...] = (
    Skip("./scripts/demo.sh", "the demo: minutes at 50,000 lines; its steps are checked here"),
    Skip("./scripts/test.sh", "the test command, which runs this check"),
    Skip(
        ".venv/bin/python benchmarks/pipeline_benchmark.py",
        "the benchmark: 1,000,000 order lines (80 s idle, far more on a busy machine), and what "
        "it prints are measured timings no check can hold it to",
    ),
    Skip(
        ".venv/bin/python benchmarks/incremental_benchmark.py",
        "the incremental benchmark: lakes of 100,000 to 3,000,000 order lines, tens of minutes; "
        "run at a tiny size on the session's lake in tests/benchmarks/test_benchmarks.py",
    ),
    Skip(
        ".venv/bin/python benchmarks/duckdb_equivalent.py",
        "the DuckDB yardstick at 1,000,000 lines, minutes; its gold is compared with the "
        "pipeline's at a tiny size in tests/benchmarks/test_benchmarks.py",
    ),
    Skip(
        ".venv/bin/python benchmarks/stream_benchmark.py",
        "the stream benchmark: a medallion serve, 20,000 events and a run, minutes of measured "
        "timings no check can hold it to",
    ),
    Skip("medallion deploy", DEPLOY_TESTS),
    Skip("medallion destroy", DEPLOY_TESTS),
    Skip("medallion start", RUN_TESTS),
    Skip("medallion status", RUN_TESTS),
    Skip("medallion history", RUN_TESTS),
    Skip("medallion rerun", RUN_TESTS),
    Skip("medallion backfill", RUN_TESTS),
    Skip(
        "medallion verify",
        "needs AWS: the deployed account's IAM policy simulator; stubbed in "
        "tests/medallion/access/test_verify.py",
    ),
    Skip(
        "medallion stream",
        "needs a Firehose delivery stream; on moto's Firehose served on 127.0.0.1 in "
        "tests/medallion/aws/test_firehose_stream.py",
    ),
    Skip(
        "medallion serve",
        "a server that runs until stopped; started on a free port of 127.0.0.1 and used with "
        "medallion stream, the AWS CLI and medallion query --aws in "
        "tests/medallion/serve/test_serve_end_to_end.py",
    ),
    Skip(
        "medallion dashboard --aws",
        "needs AWS: Athena in the stack's workgroup; against moto's Athena served on 127.0.0.1 "
        "(queries on DuckDB) in tests/dashboard",
    ),
    Skip("export MEDALLION_DB_URL=", "the database's address, for the commands after it"),
    Skip("medallion generate --postgres", DATABASE_TESTS),
    Skip("medallion run --contracts sample/database-contracts", DATABASE_TESTS),
    Skip("aws ", "the AWS CLI"),
    Skip("export AWS_PROFILE=", "AWS credentials for the commands after it"),
    Skip("LAKE=$(aws ", "the AWS CLI"),
)


# ---------------------------------------------------------------------------- the README


def readme_commands(text: str) -> list[str]:
    """The commands of the README's ```bash blocks: continuations joined, comments dropped."""
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.M | re.S):
        joined = re.sub(r"\\\n\s*", "", block)
        for line in joined.splitlines():
            command = " ".join(_without_comment(line).split())
            if command:
                commands.append(command)
    return commands


def _without_comment(line: str) -> str:
    """``line`` up to a ``#`` that starts a shell comment (outside quotes, after a blank)."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def coverage(commands: list[str]) -> list[str]:
    """Problems: README commands neither checked nor skipped, entries no command matches."""
    problems = []
    checked = {check.command for check in CHECKS}
    for command in commands:
        if command not in checked and not any(command.startswith(s.prefix) for s in SKIPS):
            problems.append(f"README command with no check or skip: {command}")
    for check in CHECKS:
        if check.command not in commands:
            problems.append(f"checked command no longer in the README: {check.command}")
    for skip in SKIPS:
        if not any(command.startswith(skip.prefix) for command in commands):
            problems.append(f"skip that matches no README command: {skip.prefix}")
    return problems


# ---------------------------------------------------------------------------- running


def environment() -> dict[str, str]:
    """This environment without settings that would change what the commands do: the venv's
    ``medallion`` first on PATH, no MEDALLION_* options, no AWS credentials or region."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MEDALLION_", "AWS_")) and key != "VIRTUAL_ENV"
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    # Wide enough for every table: once under pytest the tables came out 80 columns wide with
    # no COLUMNS set (not reproduced since); a fixed width keeps the substrings checkable.
    env["COLUMNS"] = "400"
    return env


def run_command(command: str, cwd: Path) -> Result:
    start = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    return Result(cwd, done.returncode, done.stdout, done.stderr, time.monotonic() - start)


def run_dashboard(command: str, cwd: Path) -> tuple[Result, list[str]]:
    """Start the dashboard, wait until it answers on 127.0.0.1, stop it with SIGTERM and check
    that nothing listens on its port afterwards."""
    port = int(command.rsplit(" ", 1)[1])
    start = time.monotonic()
    with (cwd / "dashboard.out").open("w") as out:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=cwd,
            env=environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    problems = [] if _answers(port, 120) else [f"nothing answered on 127.0.0.1:{port} in 120 s"]
    process.send_signal(signal.SIGTERM)
    try:
        returncode = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        returncode = process.wait()
        problems.append("the dashboard did not stop within 30 s of SIGTERM")
    if _listening(port):
        problems.append(f"port {port} still listened on after the dashboard stopped")
    # A dashboard stopped by SIGTERM has done what it should: exit status of a clean stop.
    returncode = 0 if returncode in (0, -signal.SIGTERM, 128 + signal.SIGTERM) else returncode
    output = (cwd / "dashboard.out").read_text()
    return Result(cwd, returncode, output, "", time.monotonic() - start), problems


def _answers(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            url = f"http://127.0.0.1:{port}/_stcore/health"
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(1)
    return False


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def verify(check: Check, result: Result) -> list[str]:
    """What in ``result`` contradicts what the README says of ``check.command``."""
    problems = [] if result.returncode == 0 else [f"exit status {result.returncode}, not 0"]
    streams = ((check.stdout, result.stdout, "stdout"), (check.stderr, result.stderr, "stderr"))
    for text, stream, name in streams:
        problems += [f"{name} lacks {want!r}" for want in text if want not in stream]
    for path in check.files:
        file = result.cwd / path
        if not file.is_file() or file.stat().st_size == 0:
            problems.append(f"no file {path}")
    if not problems:
        for extra in check.extra:
            problems += extra(result)
    return problems


def run_checks(cwd: Path) -> list[str]:
    """Run CHECKS in order in ``cwd``; print each one's outcome; return the failures."""
    port = free_port()
    failures = []
    for check in CHECKS:
        command = (check.run_as or check.command).format(port=port)
        wanted = [text.format(port=port) for text in check.stdout]
        check = dataclasses.replace(check, run_as=command, stdout=tuple(wanted))
        if check.command == "medallion dashboard":
            result, problems = run_dashboard(command, cwd)
        else:
            result, problems = run_command(command, cwd), []
        problems += verify(check, result)
        print(
            f"{'ok  ' if not problems else 'FAIL'} {result.seconds:6.1f} s  {command}", flush=True
        )
        if problems:
            tail = (result.stdout + "\n" + result.stderr)[-4000:]
            failures.append(
                f"{command}\n  README: {check.source}\n"
                + "".join(f"  - {p}\n" for p in problems)
                + f"  output (end):\n{tail}"
            )
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, help="run here (default: a new temporary dir)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    commands = readme_commands(README.read_text())
    problems = coverage(commands)
    for skip in SKIPS:
        print(f"skip           {skip.prefix}...: {skip.reason}", flush=True)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    cwd = args.workdir or Path(tempfile.mkdtemp(prefix="readme-check-"))
    cwd.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    try:
        failures = run_checks(cwd.resolve())
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(cwd, ignore_errors=True)
    passed = len(CHECKS) - len(failures)
    print(
        f"{passed} of {len(CHECKS)} README commands do what the README says "
        f"({len(SKIPS)} kinds skipped), {time.monotonic() - start:.0f} s"
    )
    for failure in failures:
        print(f"\nFAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
