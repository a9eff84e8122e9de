"""Patches 9 and 10 (medallion.local.moto_lean): what they save, and that moto still works."""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pytest
from moto import mock_aws

from medallion.local import moto_lean, moto_patches


def _python(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter (imports start empty) and return what it prints."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_the_engine_loads_without_batch_s_backend_or_ec2_and_batch_still_works() -> None:
    found = _python(
        "import json, sys\n"
        "import medallion.local.moto_patches\n"
        "from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import "
        "state_task_service_batch as b\n"
        "before = {m: m in sys.modules for m in ('moto.ec2', 'moto.batch.models')}\n"
        "status = b.JobStatus.SUCCEEDED.value\n"
        "from moto import mock_aws\n"
        "import boto3\n"
        "with mock_aws():\n"
        "    batch = boto3.client('batch', region_name='eu-west-1')\n"
        "    queues = batch.describe_job_queues()['jobQueues']\n"
        "from moto.batch import batch_backends\n"
        "print(json.dumps({**before, 'status': status, 'queues': queues,\n"
        "                  'backends': type(batch_backends).__name__}))\n"
    )
    # Without patch 9, importing the engine imports both (moto/batch/__init__.py).
    assert found == {
        "moto.ec2": False,
        "moto.batch.models": False,
        "status": "SUCCEEDED",
        "queues": [],
        "backends": "BackendDict",
    }


def test_an_unknown_name_of_the_deferred_package_is_an_attribute_error() -> None:
    found = _python(
        "import json\n"
        "import medallion.local.moto_patches\n"
        "import moto.batch\n"
        "try:\n"
        "    moto.batch.no_such_name\n"
        "    print(json.dumps({'raised': False}))\n"
        "except AttributeError as e:\n"
        "    print(json.dumps({'raised': True, 'message': str(e)}))\n"
    )
    assert found == {
        "raised": True,
        "message": "module 'moto.batch' has no attribute 'no_such_name'",
    }
    # Already imported (as in this process): nothing to defer.
    assert moto_lean.defer_batch_backend() is False


def test_the_engine_asks_for_a_client_once_per_service_and_uninstall_restores_moto_s() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_glue as glue_service,
    )
    from moto.stepfunctions.parser.asl.utils import boto_client

    was_installed = moto_patches.installed()
    moto_patches.install()
    try:
        with mock_aws():
            first = glue_service.boto_client_for("eu-west-1", "glue")
            again = glue_service.boto_client_for(region="eu-west-1", service="glue")
            other = glue_service.boto_client_for("eu-west-1", "sns")
            elsewhere = glue_service.boto_client_for("us-east-1", "glue")
            assert first is again
            assert len({id(first), id(other), id(elsewhere)}) == 3
            assert (
                first.meta.region_name == "eu-west-1"
                and other.meta.service_model.service_name == "sns"
            )
            # The kept client works against moto like a new one.
            boto3.client("glue", region_name="eu-west-1").create_database(
                DatabaseInput={"Name": "d"}
            )
            assert [d["Name"] for d in first.get_databases()["DatabaseList"]] == ["d"]
    finally:
        if not was_installed:
            moto_patches.uninstall()
    if not was_installed:
        assert glue_service.boto_client_for is boto_client.boto_client_for
        assert glue_service.boto_client_for(
            "eu-west-1", "glue"
        ) is not glue_service.boto_client_for("eu-west-1", "glue")


@pytest.mark.parametrize("module", ["state_task_service_glue", "state_task_service_sns"])
def test_every_engine_module_that_builds_clients_gets_the_kept_ones(module: str) -> None:
    import importlib

    service = importlib.import_module(
        f"moto.stepfunctions.parser.asl.component.state.exec.state_task.service.{module}"
    )
    was_installed = moto_patches.installed()
    moto_patches.install()
    try:
        assert service.boto_client_for.__qualname__.startswith("reuse_clients")
    finally:
        if not was_installed:
            moto_patches.uninstall()
