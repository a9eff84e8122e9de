"""Runs the pipeline's state machine on one laptop: moto's ASL engine, local services behind it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3

from medallion.aws import stepfunctions as sfn_ops
from medallion.local import jobhost, run_roots
from medallion.local.changes import CHANGES
from medallion.local.jobrunner import (
    LAYERS,
    REPO_ROOT,
    LocalGlue,
    local_default_arguments,
    run_job,
)
from medallion.local.lakelock import lake_held
from medallion.local.services import LAKE_BUCKET, AlertSettings, JobRunner, LocalServices
from medallion.spec.definition import render_definition
from medallion.spec.views import view_statements

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account; nothing real
ENVIRONMENT = "local"
STATE_MACHINE_NAME = "medallion-local-pipeline"
WORKGROUP = "medallion-local"
RESULTS_BUCKET = "medallion-local-athena-results"  # in moto's S3: where Athena results go
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/medallion-local-pipeline"


@dataclass(frozen=True)
class LocalRunConfig:
    """Everything a local run needs besides the run options.

    Parameters
    ----------
    lake
        The lake directory (``./lake`` from the CLI).
    landing
        Landing directory; ``<lake>/landing`` when None.
    contracts_root
        The contracts the bronze and silver jobs read.
    crawler_poll_seconds, crawler_max_polls
        The crawler wait bound, small locally because local crawls take a second.
    alerts
        Where the failure email goes.
    views
        ``(name, sql)`` pairs; ``medallion.spec.views.view_statements()`` when None.
    job_runner
        How a layer's job runs (tests stand in for the real scripts here). None: a warm job
        host for the run (:mod:`medallion.local.jobhost`), or a process per job when
        ``MEDALLION_JOB_HOST=process``.
    """

    lake: Path
    landing: Path | None = None
    contracts_root: Path = REPO_ROOT / "contracts"
    crawler_poll_seconds: int = 1
    crawler_max_polls: int = 120
    alerts: AlertSettings = field(default_factory=AlertSettings.from_env)
    views: Sequence[tuple[str, str]] | None = None
    job_runner: JobRunner | None = None

    def names(self) -> dict[str, str]:
        """Placeholder values naming the local resources."""
        names = {f"{layer.title()}JobName": f"medallion-local-{layer}" for layer in LAYERS}
        names.update(
            {f"{layer.title()}CrawlerName": f"medallion-local-{layer}" for layer in LAYERS}
        )
        return names


@dataclass
class LocalRun:
    """How a local execution went."""

    execution_arn: str
    status: str
    error: str
    cause: str
    started: Any
    stopped: Any
    events: list[sfn_ops.StepEvent]
    history: list[dict[str, Any]]
    summaries: dict[str, dict[str, Any]]
    alerts: list[Path]
    output: dict[str, Any] | None

    @property
    def failed_state(self) -> str | None:
        """The state the alert names (the last state left before the alert), or None."""
        for event in self.events:
            if event.kind == "entered" and event.state == "Compose alert":
                return _failed_state_from_history(self.history)
        return None


def _failed_state_from_history(history: list[dict[str, Any]]) -> str | None:
    for event in history:
        details = event.get("stateEnteredEventDetails") or {}
        if details.get("name") == "Compose alert":
            failed = json.loads(details.get("input") or "{}").get("failed_state")
            return str(failed) if failed else None
    return None


def substitutions(config: LocalRunConfig, topic_arn: str) -> dict[str, str]:
    """The placeholder values of a local run."""
    lake, landing = run_roots(config.lake, config.landing)
    return {
        **config.names(),
        "AlertTopicArn": topic_arn,
        "AthenaWorkGroup": WORKGROUP,
        "GoldDatabase": "gold",
        "Environment": ENVIRONMENT,
        "LakeRoot": str(lake),
        "LakeBucket": LAKE_BUCKET,
        "LandingRoot": str(landing),
        "ContractsRoot": str(config.contracts_root.resolve()),
        "CrawlerPollSeconds": str(config.crawler_poll_seconds),
        "CrawlerMaxPolls": str(config.crawler_max_polls),
    }


def _views(config: LocalRunConfig) -> Sequence[tuple[str, str]]:
    if config.views is not None:
        return config.views
    # As in the stack: the views are created in the database the definition names.
    return view_statements(database="${GoldDatabase}")


def local_services(
    config: LocalRunConfig, kind: type[LocalServices] = LocalServices
) -> LocalServices:
    """The local services a run of ``config`` hands its jobs, crawls, queries and alerts to.

    ``kind``: a subclass of :class:`LocalServices` (a test's crawler that stays RUNNING).
    """
    names = config.names()
    return kind(
        lake_root=config.lake.resolve(),
        jobs={names[f"{layer.title()}JobName"]: layer for layer in LAYERS},
        crawlers={names[f"{layer.title()}CrawlerName"]: layer for layer in LAYERS},
        alerts=config.alerts,
        region=REGION,
        job_runner=config.job_runner or run_job,
    )


@contextmanager
def local_aws(
    config: LocalRunConfig, services: LocalServices | None = None
) -> Iterator[tuple[Any, str, LocalServices]]:
    """moto in-process with the patches, the pipeline's resources, and the state machine.

    moto runs in-process (``mock_aws``), not as a server: the ASL engine calls Glue, Athena and
    SNS through boto3, which mock_aws intercepts in any thread of this process, so no port is
    opened and nothing outside the process can reach it. A ThreadedMotoServer would add a socket
    and, in moto 5.2.5, its engine calls ``localhost:<MOTO_PORT>`` regardless of the bind address.

    Yields
    ------
    tuple
        A Step Functions client, the state machine ARN, and the local services.
    """
    # Lazy: moto and the patches (its ASL engine pulls in most of moto) take over a second to
    # import; imported here, that second overlaps the job host starting its JVM instead of
    # delaying it (``launching_jobs`` is entered first).
    from moto import mock_aws

    from medallion.local import moto_patches

    lake = config.lake.resolve()
    services = services or local_services(config)
    # The engine logs every caught error with its whole parse tree; the history has them.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    moto_patches.install(services)
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            session = boto3.Session(region_name=REGION)
            topic_arn = _create_resources(session, config, lake)
            definition = render_definition(substitutions(config, topic_arn), _views(config))
            sfn = session.client("stepfunctions")
            arn = sfn.create_state_machine(
                name=STATE_MACHINE_NAME, definition=definition, roleArn=ROLE_ARN
            )["stateMachineArn"]
            try:
                yield sfn, arn, services
            finally:
                # Inside the mock, before the lake is let go: see LocalServices.settle.
                services.settle()
    finally:
        # Leave moto as shipped for anything else in this process (other tests, say).
        moto_patches.uninstall()


def _create_resources(session: boto3.Session, config: LocalRunConfig, lake: Path) -> str:
    glue = session.client("glue")
    names = config.names()
    # The run's job runner knows the local scripts bucket it launches jobs from; a stand-in
    # runner has none, and the jobs then point at the checkout's scripts.
    local: LocalGlue | None = getattr(config.job_runner, "glue", None)
    for layer in LAYERS:
        glue.create_database(DatabaseInput={"Name": layer})
        script = local.scripts.script(layer) if local else REPO_ROOT / "jobs" / layer / "job.py"
        defaults = local_default_arguments(layer, local, lake) if local else {}
        glue.create_job(
            Name=names[f"{layer.title()}JobName"],
            Role=ROLE_ARN,
            Command={"Name": "glueetl", "ScriptLocation": str(script)},
            DefaultArguments=defaults,
            GlueVersion="5.1",
        )
        glue.create_crawler(
            Name=names[f"{layer.title()}CrawlerName"],
            Role=ROLE_ARN,
            DatabaseName=layer,
            Targets={"S3Targets": [{"Path": str(lake / layer)}]},
        )
    # As the stack's workgroup: an enforced result location, which awswrangler reads results from.
    session.client("s3").create_bucket(Bucket=RESULTS_BUCKET)
    session.client("athena").create_work_group(
        Name=WORKGROUP,
        Configuration={
            "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS_BUCKET}/results/"},
            "EnforceWorkGroupConfiguration": True,
        },
    )
    return str(session.client("sns").create_topic(Name="medallion-local-alerts")["TopicArn"])


def launching_jobs(
    config: LocalRunConfig, full_refresh: bool = False
) -> AbstractContextManager[JobRunner]:
    """The config's job runner, else :func:`medallion.local.jobhost.launching_jobs` for the
    config's lake and landing."""
    if config.job_runner is not None:
        return nullcontext(config.job_runner)
    return jobhost.launching_jobs(*run_roots(config.lake, config.landing), full_refresh)


def run_local(
    config: LocalRunConfig,
    options: sfn_ops.RunOptions,
    on_event: Callable[[sfn_ops.StepEvent], None] | None = None,
    services: LocalServices | None = None,
    poll_seconds: float = 1.0,
) -> LocalRun:
    """Execute the pipeline definition locally and wait for it.

    Parameters
    ----------
    config
        Lake, landing, contracts and local settings.
    options
        The execution input (run id, datasets, observation end, full refresh).
    on_event
        Called for every state entered or left, as it happens.
    services
        Local services to use instead of the default ones (tests inject faults here).
    poll_seconds
        How often the execution is looked at when nothing signalled a change: a history event
        or the execution's end wakes the look at once (:mod:`medallion.local.changes`).

    Returns
    -------
    LocalRun
        Status, error and cause, the history and the jobs' summaries.

    Raises
    ------
    medallion.local.lakelock.LakeBusy
        Another local run holds the lake; nothing was started.
    """
    config.lake.mkdir(parents=True, exist_ok=True)
    # Injected services bring their own job runner: no host is started for them.
    runner = (
        nullcontext(config.job_runner) if services else launching_jobs(config, options.full_refresh)
    )
    with (
        lake_held(config.lake, options.run_id),
        runner as job_runner,
        local_aws(replace(config, job_runner=job_runner), services) as (sfn, arn, local),
    ):
        execution_arn = sfn_ops.start(arn, options, sfn=sfn)
        followed = sfn_ops.follow(
            execution_arn, on_event, poll_seconds=poll_seconds, sfn=sfn, changes=CHANGES
        )
        described, raw_history = followed.described, followed.history
        output = described.get("output")
        return LocalRun(
            execution_arn=execution_arn,
            status=described["status"],
            error=described.get("error", ""),
            cause=described.get("cause", ""),
            started=described.get("startDate"),
            stopped=described.get("stopDate"),
            events=list(sfn_ops.step_events(raw_history)),
            history=raw_history,
            summaries=local.summaries(),
            alerts=list(local.alerts_sent),
            output=json.loads(output) if output else None,
        )
