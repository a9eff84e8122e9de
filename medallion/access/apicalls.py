"""Records the AWS API calls a process makes, through botocore's events.

In the local run's own process the recorder is registered on boto3's default session; a job
runs in a process of its own, so :func:`job_environment` starts it with a ``sitecustomize`` that
calls :func:`install_from_env`, which appends each call to a JSON Lines file. A recorded call can
be answered locally (``MEDALLION_ACCESS_STUB``): the silver job's ``GetSecretValue`` reaches no
AWS, yet the job goes on with a salt, the way it does on Glue.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

LOG_SETTING = "MEDALLION_ACCESS_API_LOG"
STUB_SETTING = "MEDALLION_ACCESS_STUB"

# Local answers for the calls a job makes, when asked to stub them.
STUBS: dict[tuple[str, str], dict[str, Any]] = {
    ("secretsmanager", "GetSecretValue"): {"SecretString": "recorded-run-salt"},
}

Sink = Callable[[str, str, Mapping[str, Any]], None]
"""``sink(iam_service_prefix, operation, params)``."""


def install(events: Any, sink: Sink, stub: bool = False) -> list[tuple[str, Callable[..., Any]]]:
    """Register the recorder on a botocore event emitter.

    ``before-parameter-build`` sees each call's parameters as the caller gave them (the
    operation's IAM action and resource come from those); with ``stub``, ``before-call`` answers
    the calls in :data:`STUBS` instead of sending them.

    Returns
    -------
    list
        ``(event, handler)`` pairs, for ``events.unregister``.
    """

    def record(model: Any, params: Mapping[str, Any], **_: Any) -> None:
        sink(model.service_model.signing_name, model.name, dict(params))

    def answer(model: Any, **_: Any) -> Any:
        reply = STUBS.get((model.service_model.signing_name, model.name))
        if reply is None:
            return None
        return AWSResponse("https://stub.invalid", 200, {}, None), dict(reply)

    handlers: list[tuple[str, Callable[..., Any]]] = [("before-parameter-build", record)]
    if stub:
        handlers.append(("before-call", answer))
    for event, function in handlers:
        events.register(event, function)
    return handlers


def install_from_env() -> None:
    """In a job process: record boto3's default session's calls to ``$MEDALLION_ACCESS_API_LOG``."""
    path = os.environ.get(LOG_SETTING)
    if not path:
        return

    def sink(service: str, operation: str, params: Mapping[str, Any]) -> None:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps([service, operation, params], default=str) + "\n")

    boto3.setup_default_session()
    install(boto3.DEFAULT_SESSION.events, sink, stub=os.environ.get(STUB_SETTING) == "1")


def job_environment(log: Path, region: str) -> dict[str, str]:
    """Environment for a job process that records its calls to ``log`` and stubs known ones."""
    shim = Path(tempfile.mkdtemp(prefix="medallion-access-"))
    (shim / "sitecustomize.py").write_text(
        "from medallion.access.apicalls import install_from_env\ninstall_from_env()\n",
        encoding="utf-8",
    )
    path = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH", "")) if p)
    return {
        "PYTHONPATH": path,
        LOG_SETTING: str(log),
        STUB_SETTING: "1",
        "AWS_DEFAULT_REGION": region,
        # The job must take its salt from the secret, as on Glue, so the call is made.
        "MEDALLION_PII_SALT": "",
    }


def read_log(log: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """The calls a job process recorded."""
    if not log.exists():
        return []
    return [tuple(json.loads(line)) for line in log.read_text(encoding="utf-8").splitlines()]
