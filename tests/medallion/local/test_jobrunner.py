"""A local Glue job run launches a job as Glue does: a copy of the entry script, ``jobs`` from
jobs.zip only, the template's DefaultArguments overlaid by the run's, and Glue's own arguments."""

from __future__ import annotations

import ast
import json
import shutil
import sys
import tempfile
import textwrap
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.jobs import ADDITIONAL_PYTHON_MODULES, GLUE_PROVIDED_MODULES
from jobs.common import runtime
from jobs.common.config import read_contracts
from medallion.aws.package import build_jobs_zip
from medallion.local.jobrunner import (
    REPO_ROOT,
    LocalGlue,
    build_scripts_bucket,
    glue_arguments,
    run_job,
)

# Prints what the job's interpreter sees, as JSON on one line.
PROBE = """
import json, os, sys
from awsglue.utils import getResolvedOptions
seen = {
    "file": __file__,
    "name": __name__,
    "cwd": os.getcwd(),
    "path0": sys.path[0],
    "argv": sys.argv[1:],
    "resolved": getResolvedOptions(sys.argv, ["JOB_NAME", "lake_root", "run_id"]),
}
import jobs.common.runtime
seen["jobs"] = jobs.common.runtime.__file__
seen["on_glue"] = jobs.common.runtime.on_glue()
print("PROBE " + json.dumps(seen), flush=True)
"""


@pytest.fixture(scope="module")
def glue(tmp_path_factory: pytest.TempPathFactory) -> LocalGlue:
    """One local scripts bucket for the module, as a local run builds one."""
    return LocalGlue(build_scripts_bucket(tmp_path_factory.mktemp("scripts")))


@pytest.fixture
def script(tmp_path: Path) -> Iterator[Any]:
    def write(body: str, name: str = "job.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(body), encoding="utf-8")
        return path

    yield write


def run_probe(glue: LocalGlue, probe: Path, layer: str = "gold", **kwargs: Any) -> dict[str, Any]:
    lines: list[str] = []
    options = {"lake_root": "/lake", "run_id": "r1", **kwargs.pop("options", {})}
    result = run_job(layer, options, glue=glue, script=probe, on_line=lines.append, **kwargs)
    assert result.state == "SUCCEEDED", lines
    (line,) = [line for line in lines if line.startswith("PROBE ")]
    return dict(json.loads(line[len("PROBE ") :]))


def pairs(argv: list[str]) -> dict[str, str]:
    assert len(argv) % 2 == 0, argv
    names = argv[::2]
    assert len(names) == len(set(names)), f"an argument passed twice: {names}"
    return dict(zip(names, argv[1::2], strict=True))


def test_the_script_runs_as_main_from_a_temporary_copy(glue: LocalGlue, script: Any) -> None:
    seen = run_probe(glue, script(PROBE))

    assert seen["name"] == "__main__"
    assert not seen["file"].startswith(str(REPO_ROOT))
    assert Path(seen["file"]).parent == Path(seen["cwd"]) == Path(seen["path0"])
    assert not seen["cwd"].startswith(str(REPO_ROOT))
    assert seen["jobs"].startswith(str(glue.scripts.jobs_zip) + "/")
    assert seen["on_glue"] is False  # the runner marks the run local, --JOB_RUN_ID or not


def test_a_job_sees_the_arguments_only_the_template_sets(glue: LocalGlue, script: Any) -> None:
    args = pairs(run_probe(glue, script(PROBE), layer="silver")["argv"])

    scripts = glue.scripts.root
    assert args["--TempDir"] == f"{scripts}/temporary/silver/"
    assert args["--enable-metrics"] == "true"
    assert args["--extra-py-files"] == str(glue.scripts.jobs_zip)
    assert args["--contracts_root"] == f"{scripts}/contracts/"
    assert args["--additional-python-modules"] == "pyyaml==6.0.3,scipy==1.17.1"
    # The template's salt secret is an ARN with no secret behind it locally: the local salt.
    assert args["--pii_salt_secret"] == ""
    assert args["--lake_root"] == "/lake"


def test_the_runs_arguments_override_the_default_arguments(glue: LocalGlue, script: Any) -> None:
    overrides = {"--enable-metrics": "false", "--TempDir": "/elsewhere/", "--lake_root": "/l2"}
    args = pairs(run_probe(glue, script(PROBE), options=overrides)["argv"])

    assert args["--enable-metrics"] == "false"
    assert args["--TempDir"] == "/elsewhere/"
    assert args["--lake_root"] == "/l2"


def test_glues_own_arguments_are_passed_and_resolve(glue: LocalGlue, script: Any) -> None:
    seen = run_probe(glue, script(PROBE), job_run_id="jr_abc", job_name="medallion-x-gold")
    args = pairs(seen["argv"])

    assert args["--JOB_RUN_ID"] == "jr_abc"
    assert args["--JOB_NAME"] == "medallion-x-gold"
    assert args["--JOB_ID"].startswith("j_")
    assert args["--job-bookmark-option"] == "job-bookmark-disable"
    resolved = seen["resolved"]  # Glue's own getResolvedOptions takes all of them
    assert (resolved["JOB_NAME"], resolved["JOB_RUN_ID"]) == ("medallion-x-gold", "jr_abc")
    assert resolved["job_bookmark_option"] == "job-bookmark-disable"


def test_an_empty_value_reaches_the_script_as_an_empty_argument(glue: LocalGlue) -> None:
    args = glue_arguments("silver", {"datasets": "", "run_id": "r"}, glue)

    assert args["--datasets"] == ""


def test_a_script_importing_what_only_the_working_tree_has_fails_as_on_glue(
    glue: LocalGlue, script: Any
) -> None:
    for module in ("medallion.aws.stackmodel", "infra.jobs", "tests.conftest"):
        result = run_job("gold", {}, glue=glue, script=script(f"import {module}\n"))
        assert result.state == "FAILED", module
        top = module.split(".")[0]
        assert f"ModuleNotFoundError: No module named '{top}'" in result.error_message


def test_jobs_come_from_the_zip_even_with_a_source_tree_on_the_path(
    tmp_path: Path, script: Any
) -> None:
    source = tmp_path / "src"
    for folder in ("jobs", "contracts", "sql"):
        shutil.copytree(
            REPO_ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    own = LocalGlue(build_scripts_bucket(tmp_path / "bucket", root=source))
    (source / "jobs" / "common" / "only_in_the_tree.py").write_text("X = 1\n")
    probe = script("import jobs.common.errors\nimport jobs.common.only_in_the_tree\n")

    result = run_job("gold", {}, glue=own, script=probe, env={"PYTHONPATH": str(source)})

    assert result.state == "FAILED"
    assert "No module named 'jobs.common.only_in_the_tree'" in result.error_message


@pytest.mark.parametrize("layer", ["bronze", "silver", "gold"])
def test_an_entry_script_copied_to_a_shallow_path_imports(
    glue: LocalGlue, script: Any, layer: str
) -> None:
    """Glue runs a copy like /tmp/job.py, where Path(__file__).parents[2] does not exist."""
    shallow = Path(tempfile.gettempdir()) / f"glue-{layer}-{uuid.uuid4().hex}.py"
    if len(shallow.resolve().parents) > 2:
        pytest.skip(f"the temporary directory {shallow.parent} is not shallow like Glue's /tmp")
    checker = script(
        f"""
        import runpy, shutil, sys
        shutil.copyfile({str(glue.scripts.script(layer))!r}, {str(shallow)!r})
        try:
            runpy.run_path({str(shallow)!r}, run_name="entry_import_check")  # imports, no main()
        finally:
            import os
            os.remove({str(shallow)!r})
        print("IMPORTED", flush=True)
        """
    )
    lines: list[str] = []
    result = run_job(layer, {}, glue=glue, script=checker, on_line=lines.append)

    assert result.state == "SUCCEEDED", lines
    assert "IMPORTED" in lines


def test_every_third_party_import_of_the_jobs_is_on_glue(tmp_path: Path) -> None:
    archive = build_jobs_zip(REPO_ROOT, tmp_path / "jobs.zip")
    imported: dict[str, str] = {}
    with zipfile.ZipFile(archive) as zipped:
        for name in zipped.namelist():
            if not name.endswith(".py"):
                continue
            for node in ast.walk(ast.parse(zipped.read(name), name)):
                if isinstance(node, ast.Import):
                    imported.update({alias.name.split(".")[0]: name for alias in node.names})
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imported[node.module.split(".")[0]] = name
    third_party = {
        module: where
        for module, where in imported.items()
        if module not in sys.stdlib_module_names and module not in ("jobs", "__future__")
    }
    assert "yaml" in third_party and "pyspark" in third_party  # the walk finds imports
    shipped = set(GLUE_PROVIDED_MODULES) | set(ADDITIONAL_PYTHON_MODULES)
    missing = {module: where for module, where in third_party.items() if module not in shipped}
    assert not missing, f"not provided by Glue 5.1 nor in --additional-python-modules: {missing}"


@pytest.mark.parametrize(
    ("marker", "argv", "expected"),
    [
        ("local", ["job.py", "--JOB_RUN_ID", "jr_1"], False),
        ("glue", ["job.py"], True),
        ("", ["job.py", "--JOB_RUN_ID", "jr_1"], True),
        ("", ["job.py", "--lake_root", "/l"], False),
    ],
)
def test_on_glue_is_the_local_marker_else_glues_run_id(
    monkeypatch: pytest.MonkeyPatch, marker: str, argv: list[str], expected: bool
) -> None:
    monkeypatch.setenv(runtime.RUNTIME_SETTING, marker)
    assert runtime.on_glue(argv) is expected


def test_the_secrets_client_region_is_the_secrets_own() -> None:
    arn = "arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:medallion-dev-pii-AbCdEf"
    assert runtime.region_of_arn(arn) == "ap-southeast-2"
    assert runtime.region_of_arn("medallion-dev-pii") is None


def test_shuffle_partitions_are_set_only_locally() -> None:
    assert "spark.sql.shuffle.partitions" not in runtime.SPARK_SETTINGS
    assert runtime.LOCAL_SETTINGS["spark.sql.shuffle.partitions"] == "8"


class _Listing:
    """Hadoop's FileSystem as read_contracts uses it; existence checks fail the test."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def listFiles(self, path: str, recursive: bool) -> Any:
        statuses = iter([_Status(p) for p in sorted(self.files)])

        class Iterator:
            def __init__(self) -> None:
                self.next_one = next(statuses, None)

            def hasNext(self) -> bool:
                return self.next_one is not None

            def next(self) -> Any:
                current, self.next_one = self.next_one, next(statuses, None)
                return current

        return Iterator()


class _Status:
    def __init__(self, path: str) -> None:
        self.path = path

    def getPath(self) -> Any:
        return self

    def getName(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def toString(self) -> str:
        return self.path


class _ListOnlyFiles:
    def __init__(self, files: dict[str, str]) -> None:
        self.fs = _Listing(files)
        self.files = files

    def _path(self, uri: str) -> str:
        return uri

    def _fs(self, uri: str) -> _Listing:
        return self.fs

    def read_text(self, uri: str) -> str:
        return self.files[uri]

    def exists(self, uri: str) -> bool:
        raise AssertionError(f"read_contracts asked whether {uri} exists (a HEAD on S3)")

    def list_files(self, uri: str) -> Any:
        raise AssertionError("read_contracts went through list_files, which checks existence")


def test_contracts_are_found_by_listing_the_prefix_only() -> None:
    root = "s3://scripts/contracts"
    files = {
        f"{root}/{p.name}": p.read_text(encoding="utf-8")
        for p in sorted((REPO_ROOT / "contracts").glob("*.yaml"))
    }
    files[f"{root}/_SUCCESS"] = ""

    contracts = read_contracts(_ListOnlyFiles(files), root + "/")  # type: ignore[arg-type]

    assert set(contracts) == {Path(p).stem for p in files if p.endswith(".yaml")}
