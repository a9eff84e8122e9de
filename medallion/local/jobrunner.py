"""Runs a layer's Glue entry script as a local process, the way a Glue job run starts it.

Glue copies the job's script out of the scripts bucket and runs it as ``__main__``, with the
``--extra-py-files`` (here ``jobs.zip``) on the Python path and nothing else of this repository:
no ``medallion``, no ``infra``, no working tree. Its arguments are the job's DefaultArguments,
overlaid by the run's Arguments, and Glue's own (``--JOB_ID``, ``--JOB_RUN_ID``, ``--JOB_NAME``,
``--TempDir``, ``--job-bookmark-option``). A local run does the same: the scripts bucket is a
directory of :func:`medallion.aws.package.package`'s files (the bytes deploy uploads), the
DefaultArguments come from the rendered template with their S3 locations mapped to local
directories, and the job's interpreter can import ``jobs`` only from ``jobs.zip``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import itertools
import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipimport
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType

from jobs.common.entry import ERROR_PREFIX, SUMMARY_PREFIX
from jobs.common.runtime import RUNTIME_SETTING
from medallion import REPO_ROOT
from medallion.local.parentwatch import kill_group, watch_parent

LAYERS = ("bronze", "silver", "gold")
LOCAL_ENVIRONMENT = "local"
# JDBC drivers the local Spark starts with (Glue's runtime bundles PostgreSQL's and SQL Server's):
# MEDALLION_JDBC_JARS (os.pathsep-separated), else Debian's libpostgresql-jdbc-java (setup.sh).
JDBC_JARS_SETTING = "MEDALLION_JDBC_JARS"
DEFAULT_JDBC_JARS = ("/usr/share/java/postgresql.jar",)
PROJECT_PACKAGES = ("jobs", "medallion", "infra")
"""What this repository holds and Glue does not: a job imports ``jobs`` from jobs.zip only."""


def entry_script(layer: str) -> Path:
    """The Glue entry script of a layer in this checkout (deploy uploads it as ScriptLocation)."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
    return REPO_ROOT / "jobs" / layer / "job.py"


@dataclass(frozen=True)
class JobResult:
    """How a local job run ended: SUCCEEDED or FAILED from its exit status."""

    layer: str
    exit_code: int
    seconds: float
    error_message: str
    summary: dict[str, object]

    @property
    def state(self) -> str:
        return "SUCCEEDED" if self.exit_code == 0 else "FAILED"


# --- the scripts bucket and the arguments -------------------------------------------------------
@dataclass(frozen=True)
class ScriptsBucket:
    """A local directory laid out as deploy fills the scripts bucket: key = relative path."""

    root: Path

    @property
    def jobs_zip(self) -> Path:
        return self.root / "jobs.zip"

    def script(self, layer: str) -> Path:
        """The layer's entry script, as uploaded (``jobs/<layer>/job.py``)."""
        return self.root / entry_script(layer).relative_to(REPO_ROOT)


def build_scripts_bucket(dest: Path, root: Path = REPO_ROOT) -> ScriptsBucket:
    """Put in ``dest`` what ``medallion deploy`` uploads: entry scripts, jobs.zip, contracts, sql.

    The files are :func:`medallion.aws.package.package`'s, so ``jobs.zip`` is built by the same
    function, byte for byte.
    """
    from medallion.aws.package import package  # troposphere: not before a job host starts

    dest.mkdir(parents=True, exist_ok=True)
    for source, key in package(root, dest).files:
        target = dest / key
        if target.resolve() != source.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return ScriptsBucket(dest)


@dataclass(frozen=True)
class LocalGlue:
    """Where a local job run finds what Glue would give it.

    Parameters
    ----------
    scripts
        The local scripts bucket.
    lake
        The local lake bucket; None: the run's own ``--lake_root``, as ``medallion run`` passes.
    environment
        The stack whose rendered template gives the jobs' DefaultArguments.
    """

    scripts: ScriptsBucket
    lake: Path | None = None
    environment: str = LOCAL_ENVIRONMENT


@dataclass(frozen=True)
class TemplateJob:
    """A Glue job of the rendered template, its functions evaluated."""

    name: str
    default_arguments: dict[str, str]
    buckets: dict[str, str]  # bucket name -> role ("lake" or "scripts")


@lru_cache(maxsize=8)
def template_job(layer: str, environment: str = LOCAL_ENVIRONMENT) -> TemplateJob:
    """The layer's job as ``medallion synth`` renders it for ``environment``."""
    from medallion.aws.stackmodel import model_for  # troposphere, as package

    model = model_for(environment)
    title = layer.title()
    if f"{title}Job" not in model.resources:
        raise ValueError(f"the template has no Glue job {title}Job")
    props = model.properties(f"{title}Job")
    buckets = {
        model.physical_name("LakeBucket"): "lake",
        model.physical_name("ScriptsBucket"): "scripts",
    }
    defaults = {key: str(value) for key, value in props.get("DefaultArguments", {}).items()}
    return TemplateJob(str(props["Name"]), defaults, buckets)


def _local_value(value: str, roots: Mapping[str, Path], buckets: Mapping[str, str]) -> str:
    """An argument value with the stack's S3 locations mapped to local directories."""
    if value.startswith("arn:aws:secretsmanager:"):
        # No such secret locally: empty asks the silver job for the local salt
        # ($MEDALLION_PII_SALT, else the development salt), as `medallion run` already passes.
        return ""
    if not value.startswith("s3://"):
        return value
    bucket, _, key = value[len("s3://") :].partition("/")
    role = buckets.get(bucket)
    if role is None:
        return value
    return f"{roots[role]}/{key}" if key else str(roots[role])


def local_default_arguments(layer: str, glue: LocalGlue, lake: Path) -> dict[str, str]:
    """The job's DefaultArguments with the lake and scripts buckets mapped to local directories."""
    job = template_job(layer, glue.environment)
    roots = {"lake": lake, "scripts": glue.scripts.root}
    return {k: _local_value(v, roots, job.buckets) for k, v in job.default_arguments.items()}


def glue_arguments(
    layer: str,
    run_arguments: Mapping[str, str],
    glue: LocalGlue,
    *,
    job_run_id: str | None = None,
    job_name: str | None = None,
) -> dict[str, str]:
    """The arguments Glue passes a job run's script, in order, with local locations.

    The job's DefaultArguments (mapped to local directories), overlaid by the run's Arguments
    (they win, as on Glue), and Glue's own: ``--JOB_ID``, ``--JOB_RUN_ID`` and ``--JOB_NAME``
    always, ``--TempDir`` and ``--job-bookmark-option`` unless the job sets them
    (https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue-arguments.html).
    """
    run = {f"--{key.lstrip('-')}": str(value) for key, value in run_arguments.items()}
    lake = glue.lake or Path(run.get("--lake_root") or "lake").resolve()
    defaults = local_default_arguments(layer, glue, lake)
    name = job_name or template_job(layer, glue.environment).name
    glue_own = {
        "--TempDir": f"{glue.scripts.root}/temporary/",
        "--job-bookmark-option": "job-bookmark-disable",
    }
    return {
        "--JOB_ID": "j_" + hashlib.sha256(name.encode()).hexdigest(),
        **glue_own,
        **defaults,
        **run,
        "--JOB_RUN_ID": job_run_id or f"jr_{uuid.uuid4().hex}{uuid.uuid4().hex}",
        "--JOB_NAME": name,
    }


def argv_of(arguments: Mapping[str, str]) -> list[str]:
    """``{"--a": "x", "--b": ""}`` -> ``["--a", "x", "--b", ""]``.

    An empty value stays an (empty) argument after its name. Glue takes "" as a value (a
    special parameter set to "" is how CloudFormation enables it,
    https://repost.aws/knowledge-center/cloudformation-glue-special-parameters); its docs do
    not say how "" reaches the script's argv, so the jobs also accept the sentinels ``all`` and
    ``none`` and the state machine sends those for unset options.
    """
    return [item for key, value in arguments.items() for item in (key, value)]


def job_arguments(options: Mapping[str, str]) -> list[str]:
    """``{"lake_root": x}`` -> ``["--lake_root", x]``: run options as command-line arguments."""
    return argv_of({f"--{key.lstrip('-')}": str(value) for key, value in options.items()})


def extra_py_files(argv: Sequence[str]) -> list[str]:
    """The paths ``--extra-py-files`` names (comma-separated), as Glue puts them on the path."""
    paths: list[str] = []
    for flag, value in itertools.pairwise(argv):
        if flag == "--extra-py-files":
            paths = [p.strip() for p in value.split(",") if p.strip()]
    return paths


# --- the job's interpreter ----------------------------------------------------------------------
class _GlueImports(MetaPathFinder):
    """Imports this repository's packages from --extra-py-files only, as a Glue job can.

    First on ``sys.meta_path``: the editable install's finder (which would serve ``jobs``,
    ``medallion`` and ``infra`` from the working tree) is never asked for them.
    """

    def __init__(self, roots: Sequence[str]) -> None:
        self.roots = list(roots)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] not in PROJECT_PACKAGES:
            return None
        spec = PathFinder.find_spec(fullname, self.roots if path is None else path)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return spec


def _take_project_modules() -> dict[str, ModuleType]:
    taken = {
        name: module
        for name, module in sys.modules.items()
        if name.partition(".")[0] in PROJECT_PACKAGES
    }
    for name in taken:
        del sys.modules[name]
    return taken


def _exposes_repository(entry: str) -> bool:
    if not entry:
        return True  # the working directory
    with contextlib.suppress(OSError):
        return Path(entry).resolve() == REPO_ROOT
    return False


@contextlib.contextmanager
def glue_interpreter(script: Path, extra: Sequence[str]) -> Iterator[None]:
    """While inside, this interpreter imports as Glue's does for ``script``.

    ``sys.path`` starts with the script's directory (``python script.py`` puts it there) and
    the --extra-py-files, the repository's packages come from those files only, and the modules
    of ``jobs``, ``medallion`` and ``infra`` already imported are out of ``sys.modules``. All of
    it is restored on the way out (the warm job host lives on after the job).
    """
    saved_path, saved_meta = list(sys.path), list(sys.meta_path)
    saved_modules = _take_project_modules()
    sys.meta_path.insert(0, _GlueImports(extra))
    kept = [p for p in saved_path if not _exposes_repository(p) and p not in extra]
    sys.path[:] = [str(script.parent), *extra, *kept]
    importlib.invalidate_caches()
    try:
        yield
    finally:
        _take_project_modules()
        sys.modules.update(saved_modules)
        sys.path[:] = saved_path
        sys.meta_path[:] = saved_meta
        for entry in extra:  # a later run may bring a new zip at the same path
            sys.path_importer_cache.pop(entry, None)
            getattr(zipimport, "_zip_directory_cache", {}).pop(entry, None)
        importlib.invalidate_caches()


def run_script_as_glue(script: Path, argv: Sequence[str]) -> None:
    """Run a copied entry script as ``__main__`` with ``argv``, in a Glue-like interpreter."""
    saved_argv = sys.argv
    sys.argv = [str(script), *argv]
    try:
        with glue_interpreter(script, extra_py_files(argv)):
            runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = saved_argv


def _process_main() -> None:
    """A job process's entry (``python -c``): ``<script copy> <arguments...>``; the process, in
    a session of its own, ends with the command that started it (:mod:`.parentwatch`)."""
    watch_parent()
    script, *argv = sys.argv[1:]
    run_script_as_glue(Path(script), argv)


_PROCESS_BOOTSTRAP = "from medallion.local.jobrunner import _process_main; _process_main()"


@contextlib.contextmanager
def script_copy(script: Path) -> Iterator[Path]:
    """The entry script copied into a new temporary directory, as Glue copies it from S3."""
    folder = Path(tempfile.mkdtemp(prefix="glue-script-"))
    try:
        target = folder / script.name
        shutil.copyfile(script, target)
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def local_glue(glue: LocalGlue | None) -> Iterator[LocalGlue]:
    """``glue``, else one with a scripts bucket built now and removed afterwards."""
    if glue is not None:
        yield glue
        return
    with tempfile.TemporaryDirectory(prefix="medallion-scripts-") as folder:
        yield LocalGlue(build_scripts_bucket(Path(folder)))


# --- running it -------------------------------------------------------------------------------
class JobOutput:
    """Reads a job's output lines: its summary, its error line, and the last lines for context."""

    def __init__(self, on_line: Callable[[str], None] | None = None) -> None:
        self.summary: dict[str, object] = {}
        self.error = ""
        self.tail: list[str] = []
        self._on_line = on_line

    def add(self, line: str) -> None:
        line = line.rstrip("\n")
        if line.startswith(SUMMARY_PREFIX):
            self.summary = json.loads(line[len(SUMMARY_PREFIX) :])
        else:
            if line.startswith(ERROR_PREFIX):
                self.error = line[len(ERROR_PREFIX) :]
            self.tail = [*self.tail, line][-20:]
        # Every line reaches the log, the summary line too: the log is the job's whole output.
        if self._on_line:
            self._on_line(line)

    def result(self, layer: str, code: int, seconds: float, error: str = "") -> JobResult:
        """The run's result; a failure without an error line is explained by its last line."""
        message = self.error or error
        if code != 0 and not message:
            message = next((t for t in reversed(self.tail) if t.strip()), f"exit status {code}")
        return JobResult(layer, code, seconds, message, self.summary)


def job_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment, the overrides, marked local, without the repository on
    PYTHONPATH (a job imports the project only from jobs.zip)."""
    process_env = {**os.environ, **(env or {}), RUNTIME_SETTING: "local"}
    kept = [p for p in process_env.get("PYTHONPATH", "").split(os.pathsep) if p]
    kept = [p for p in kept if not _exposes_repository(p)]
    if kept:
        process_env["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        process_env.pop("PYTHONPATH", None)
    return with_jdbc_jars(process_env)


def with_jdbc_jars(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the JDBC driver jars on the Spark that PySpark starts (``--jars`` in
    PYSPARK_SUBMIT_ARGS, read when the JVM is launched), unless jars are given there already."""
    listed = env.get(JDBC_JARS_SETTING, "")
    candidates = listed.split(os.pathsep) if listed else DEFAULT_JDBC_JARS
    jars = [jar for jar in candidates if jar and Path(jar).is_file()]
    submit = env.get("PYSPARK_SUBMIT_ARGS", "")
    if jars and "--jars" not in submit:
        env["PYSPARK_SUBMIT_ARGS"] = f"--jars {','.join(jars)} {submit or 'pyspark-shell'}"
    return env


def run_job(
    layer: str,
    options: Mapping[str, str],
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: float | None = None,
    *,
    glue: LocalGlue | None = None,
    job_run_id: str | None = None,
    job_name: str | None = None,
    script: Path | None = None,
) -> JobResult:
    """Run one layer's job in a fresh Python process, launched as Glue launches it, and wait.

    Parameters
    ----------
    layer
        ``bronze``, ``silver`` or ``gold``: the template job whose DefaultArguments apply.
    options
        The run's Arguments (``{"lake_root": ...}`` or ``{"--lake_root": ...}``).
    env
        Environment overrides for the job's process.
    on_line
        Called with every output line.
    timeout
        Seconds before the process is killed.
    glue
        The local scripts bucket and lake; None builds a scripts bucket for this run alone.
    job_run_id, job_name
        Glue's ``--JOB_RUN_ID`` (a new one when None) and ``--JOB_NAME`` (the template's).
    script
        A script to run instead of the bucket's entry script (tests stand in their own).

    The job prints one ``MEDALLION_SUMMARY {json}`` line on success and one
    ``MEDALLION_ERROR message`` line on failure; both are picked up here.
    """
    with local_glue(glue) as glue:
        arguments = glue_arguments(layer, options, glue, job_run_id=job_run_id, job_name=job_name)
        with script_copy(script or glue.scripts.script(layer)) as copy:
            command = [sys.executable, "-c", _PROCESS_BOOTSTRAP, str(copy), *argv_of(arguments)]
            return _run_process(layer, command, copy.parent, env, on_line, timeout)


@dataclass(frozen=True)
class ProcessJobRunner:
    """:func:`run_job` for every job of a local run, with the run's scripts bucket and lake, and
    the run's environment overrides (``base_env``) under each job's own."""

    glue: LocalGlue
    base_env: Mapping[str, str] = field(default_factory=dict)

    def __call__(
        self,
        layer: str,
        options: Mapping[str, str],
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
        timeout: float | None = None,
        **launch: object,
    ) -> JobResult:
        merged = {**self.base_env, **(env or {})}
        return run_job(layer, options, merged, on_line, timeout, glue=self.glue, **launch)  # type: ignore[arg-type]


def _run_process(
    layer: str,
    command: list[str],
    cwd: Path,
    env: Mapping[str, str] | None,
    on_line: Callable[[str], None] | None,
    timeout: float | None,
) -> JobResult:
    started = time.monotonic()
    output = JobOutput(on_line)
    timed_out = ""
    # A session of its own: the job and its JVM are one group, ended together (by the timeout
    # here, by the job's own watch when this process dies, by the kill below otherwise).
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=job_environment(env),
        cwd=str(cwd),
        start_new_session=True,
    ) as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                output.add(line)
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(process.pid)
            code = process.wait()
            timed_out = f"timed out after {timeout:.0f} s"
        except BaseException:  # Ctrl-C: the job was in the terminal's group before, ended with it
            kill_group(process.pid)
            raise
    return output.result(layer, code, time.monotonic() - started, timed_out)
