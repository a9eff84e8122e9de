"""Runs the pipeline locally while recording what each principal touches (``python -m
medallion.access.record --order-lines 2000`` rewrites the shipped ``recorded_access.json``)."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3

from medallion.access import apicalls, mapping, model
from medallion.access.lakewatch import LakeWatcher
from medallion.access.model import (
    ANALYSTS,
    CRAWLER_ROLE,
    JOB_ROLES,
    SHIPPED,
    Access,
    save,
)
from medallion.aws.stackmodel import model_for
from medallion.aws.stepfunctions import RunOptions
from medallion.local import jit
from medallion.local.jobrunner import run_job
from medallion.local.pipeline import LAYERS, REGION, LocalRunConfig, run_local
from medallion.local.services import LocalServices
from medallion.sample.generate import generate

# Names in the stack a recorded value may hold, by the placeholder it becomes.
NAMED = (
    "LakeBucket",
    "AthenaResultsBucket",
    "ScriptsBucket",
    "PiiSaltSecret",
    "DataKey",
    "AlertTopic",
    "AthenaWorkGroup",
    "BronzeJob",
    "SilverJob",
    "GoldJob",
    "BronzeCrawler",
    "SilverCrawler",
    "GoldCrawler",
)
DATABASES = ("BronzeDatabase", "SilverDatabase", "GoldDatabase")
# What the local crawl does that an AWS crawler (SchemaChangePolicy UPDATE_IN_DATABASE, databases
# made by the stack) does as another call: it replaces a table where the crawler updates it.
CRAWLER_EMULATION = {
    "glue:DeleteTable": "glue:UpdateTable",
    "glue:CreateDatabase": "glue:GetDatabase",
}
# A crawler reads objects under its S3 target, less the target's exclusions.
CRAWLER_EXCLUDED = ("_SUCCESS", "_temporary", ".")


def names(model: Any) -> dict[str, str]:
    """Placeholder -> the model's value, for :func:`mapping.templatize`."""
    return {n: str(model.ref(n)) for n in NAMED}


def databases(model: Any) -> dict[str, str]:
    return {str(model.ref(d)): "${" + d + "}" for d in DATABASES}


class Recorder:
    """The recording side of a local run: the lake watcher and the API calls, per principal."""

    def __init__(self, lake: Path, model: Any, job_env: Mapping[str, str] | None = None) -> None:
        self.lake = lake
        self.model = model
        self.job_env = dict(job_env or {})  # what medallion run also gives each job (its JIT)
        self.watcher = LakeWatcher(lake)
        self.api: set[Access] = set()
        self._local = threading.local()
        self._logs = Path(tempfile.mkdtemp(prefix="medallion-access-api-"))

    def api_sink(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        principal = getattr(self._local, "principal", None)
        if principal is not None:
            self.add_call(principal, service, operation, params)

    def add_call(
        self, principal: str, service: str, operation: str, params: Mapping[str, Any]
    ) -> None:
        action = mapping.api_action(service, operation)
        if principal == CRAWLER_ROLE:
            action = CRAWLER_EMULATION.get(action, action)
        resource = mapping.templatize(
            mapping.api_resource(service, operation, params), names(self.model)
        )
        for concrete, placeholder in databases(self.model).items():
            resource = resource.replace(f"/{concrete}/", f"/{placeholder}/")
            if resource.endswith(f":database/{concrete}"):
                resource = resource[: -len(concrete)] + placeholder
        self.api.add(Access(principal, action, resource, (), "api"))

    @contextlib.contextmanager
    def acting(self, principal: str) -> Iterator[None]:
        """Attribute the lake's operations and this thread's API calls to ``principal``; waits
        while another principal acts on the lake (:meth:`LakeWatcher.acting`)."""
        self._local.principal = principal
        try:
            with self.watcher.acting(principal):
                yield
        finally:
            self._local.principal = None

    def job_runner(
        self, layer: str, options: Mapping[str, str], on_line: Any = None, **extra: Any
    ) -> Any:
        """Run a layer's job as Glue would, recording its lake operations and API calls.

        Other keywords the local services pass (a job run id, say) go to ``run_job`` when it
        takes them.
        """
        accepted = inspect.signature(run_job).parameters
        extra = {k: v for k, v in extra.items() if k in accepted}

        options = dict(options)
        if layer == "silver" and not options.get("pii_salt_secret"):
            # What the stack's DefaultArguments give the silver job on Glue.
            options["pii_salt_secret"] = str(self.model.ref("PiiSaltSecret"))
        log = self._logs / f"{layer}.jsonl"
        principal = JOB_ROLES[layer]
        with self.acting(principal):
            result = run_job(
                layer,
                options,
                env={**self.job_env, **apicalls.job_environment(log, "eu-west-1")},
                on_line=on_line,
                **extra,
            )
        for service, operation, params in apicalls.read_log(log):
            self.add_call(principal, service, operation, params)
        return result

    def crawler_reads(self) -> list[Access]:
        """What the crawlers read on AWS: every object under their targets, less exclusions."""
        return self._objects(CRAWLER_ROLE, ("bronze", "silver", "gold"))

    def analyst_accesses(self) -> list[Access]:
        """``medallion query --aws``, the dashboard and the Athena console, for an analyst.

        Athena reads with the caller's credentials: the marts' and quality records' objects
        (what the run left under gold/ and quality/), their Glue tables, and the workgroup's
        result location; the console lists the catalog.
        """
        p, r, a = mapping.P, mapping.R, mapping.A
        workgroup = f"arn:{p}:athena:{r}:{a}:workgroup/${{AthenaWorkGroup}}"
        catalog = f"arn:{p}:athena:{r}:{a}:datacatalog/AwsDataCatalog"
        glue = mapping.GLUE
        out = self._objects(ANALYSTS, ("gold", "quality/results", "quality/runs"))
        for action in (
            "athena:StartQueryExecution",
            "athena:GetQueryExecution",
            "athena:GetQueryResults",
            "athena:GetWorkGroup",
            "athena:StopQueryExecution",
        ):
            out.append(Access(ANALYSTS, action, workgroup, (), "athena"))
        for action in (
            "athena:GetDataCatalog",
            "athena:ListDatabases",
            "athena:ListTableMetadata",
            "athena:GetTableMetadata",
        ):
            out.append(Access(ANALYSTS, action, catalog, (), "athena"))
        tables = sorted(p.name for p in (self.lake / "gold").iterdir() if p.is_dir())
        for table in [*tables, "quality_results", "quality_runs"]:
            for action in ("glue:GetTable", "glue:GetPartitions"):
                out.append(
                    Access(
                        ANALYSTS, action, f"{glue}:table/${{GoldDatabase}}/{table}", (), "athena"
                    )
                )
        out.append(
            Access(ANALYSTS, "glue:GetDatabase", f"{glue}:database/${{GoldDatabase}}", (), "athena")
        )
        results = f"{mapping.RESULTS_BUCKET}/results/query-id.csv"
        out += [
            Access(
                ANALYSTS,
                "s3:ListBucket",
                mapping.RESULTS_BUCKET,
                (("s3:prefix", "results/"),),
                "athena",
            ),
            Access(ANALYSTS, "s3:GetBucketLocation", mapping.RESULTS_BUCKET, (), "athena"),
            Access(ANALYSTS, "s3:PutObject", results, (), "athena"),
            Access(ANALYSTS, "s3:GetObject", results, (), "athena"),
            Access(ANALYSTS, "kms:GenerateDataKey", mapping.DATA_KEY, (mapping.VIA_S3,), "athena"),
        ]
        return out

    def _objects(self, principal: str, prefixes: tuple[str, ...]) -> list[Access]:
        out: list[Access] = []
        for prefix in prefixes:
            top = self.lake / prefix
            if not top.exists():
                continue
            for path in sorted(top.rglob("*")):
                relative = path.relative_to(self.lake).as_posix()
                if any(part.startswith(CRAWLER_EXCLUDED) for part in path.relative_to(top).parts):
                    continue
                kind = "list" if path.is_dir() else "read"
                out += mapping.s3_accesses(principal, kind, relative, source="lake")
            out += mapping.s3_accesses(principal, "list", prefix, source="lake")
        return out

    def close(self) -> None:
        self.watcher.close()


def definition_accesses(model: Any) -> list[Access]:
    """The state machine role's accesses, from the deployed definition's Task states."""
    definition = json.loads(model.properties("PipelineStateMachine")["DefinitionString"])
    return mapping.integration_accesses(
        mapping.templatize(definition, names(model)), databases=databases(model)
    )


def _of_quality(access: Access) -> bool:
    """Whether an access is to the quality records: an object under ``quality/``, or a
    listing of a prefix there."""
    prefixes = [value for key, value in access.context if key == "s3:prefix"]
    return "quality/" in access.resource or any(p.startswith("quality/") for p in prefixes)


def record_run(
    lake: Path, landing: Path, model: Any | None = None, **run_options: Any
) -> list[Access]:
    """Run the pipeline locally once, recording every principal's accesses.

    Parameters
    ----------
    lake, landing
        The local lake (created) and the landing data (``medallion generate``).
    model
        The stack model names are mapped with; ``model_for("dev")`` when None.
    **run_options
        :class:`medallion.aws.stepfunctions.RunOptions` fields.

    Returns
    -------
    list of Access
        Every access seen, all principals.

    Raises
    ------
    RuntimeError
        The run did not succeed, or the watcher lost events.
    """
    model = model or model_for("dev")
    lake.mkdir(parents=True, exist_ok=True)
    # The jobs compile as medallion run's would for this run (pipeline.launching_jobs).
    full_refresh = bool(run_options.get("full_refresh"))
    recorder = Recorder(lake.resolve(), model, jit.job_environment(lake, landing, full_refresh))
    config = LocalRunConfig(lake=lake, landing=landing, job_runner=recorder.job_runner)
    local_names = config.names()

    class RecordingServices(LocalServices):
        def crawl(self, layer: str) -> list[Any]:
            with recorder.acting(CRAWLER_ROLE):
                return super().crawl(layer)

    services = RecordingServices(
        lake_root=lake.resolve(),
        jobs={local_names[f"{x.title()}JobName"]: x for x in LAYERS},
        crawlers={local_names[f"{x.title()}CrawlerName"]: x for x in LAYERS},
        alerts=config.alerts,
        region=REGION,
        job_runner=recorder.job_runner,
    )
    session = boto3.setup_default_session() or boto3.DEFAULT_SESSION
    handlers = apicalls.install(session.events, recorder.api_sink)
    try:
        outcome = run_local(config, RunOptions(**run_options), services=services)
    finally:
        for event, function in handlers:
            session.events.unregister(event, function)
        recorder.close()
    if outcome.status != "SUCCEEDED":
        raise RuntimeError(f"the recorded run {outcome.status}: {outcome.error}: {outcome.cause}")
    if recorder.watcher.overflowed:
        raise RuntimeError("inotify's queue overflowed: some lake operations were not recorded")
    crawler_api = {a for a in recorder.api if a.principal == CRAWLER_ROLE}
    crawler_lake = {
        a for a in recorder.watcher.accesses if a.principal == CRAWLER_ROLE and not _of_quality(a)
    }  # the stack, not a crawler, defines the quality tables on AWS
    jobs = {
        a for a in recorder.watcher.accesses | recorder.api if a.principal in JOB_ROLES.values()
    }
    return sorted(
        jobs
        | crawler_api
        | crawler_lake
        | set(recorder.crawler_reads())
        | set(recorder.analyst_accesses())
        | set(definition_accesses(model))
    )


def main(argv: list[str] | None = None) -> None:
    """Generate data, run once, write the collapsed accesses to the shipped file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--order-lines", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=SHIPPED)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        generate(lake / "landing", order_lines=args.order_lines, seed=args.seed)
        accesses = record_run(lake, lake / "landing")
    # Runs differ in what Spark happens to do (a task retried, a file read back): keep the union.
    known = model.load(args.out) if args.out.exists() else []
    save(mapping.collapse([*known, *accesses]), args.out)
    print(f"{len(accesses)} accesses, {len(mapping.collapse(accesses))} kinds -> {args.out}")


if __name__ == "__main__":
    main()
