"""medallion's only changes to moto 5.2.5: two .sync integrations, StartTime, local-service hooks.

Why each patch exists (ARCHITECTURE.md, Orchestration):

1. ``glue:startJobRun.sync`` fails in moto 5.2.x with ``'NoneType' object has no attribute
   'interrupt_all'``: ``StateTaskServiceCallback._eval_integration_pattern`` calls
   ``callback_endpoint.interrupt_all()`` in a ``finally``, but the endpoint is only created for
   services that accept the ``.waitForTaskToken`` pattern, and moto's Glue service accepts ``.sync``
   only. Adding the callback pattern to the Glue service's supported set gives it an endpoint.
2. ``athena:startQueryExecution.sync`` is not implemented (moto routes "athena" to its
   "unsupported" service, callback pattern only). :class:`AthenaSyncService` (in
   :mod:`medallion.local.moto_athena_sync`) adds it, polling GetQueryExecution the way moto's
   Glue service polls GetJobRun.
3. ``$$.Execution.StartTime`` is a ``datetime`` in moto's context object (``States.Format`` fails:
   "not JSON serializable"); the execution worker's environment gets AWS's ISO 8601 string.
4. Hooks: moto's Glue job runs, crawls and Athena queries succeed on their own without doing
   anything, and SNS delivers nowhere. When :func:`install` is given a :class:`LocalHooks`, a job
   run, a crawl, a query and a publish are handed to it, and the run's, crawl's or query's state is
   the local work's state. Without hooks, moto behaves as shipped. A GetCrawler of a crawler
   whose local crawl runs answers when the crawl ends or after :data:`CRAWL_LOOK_SECONDS`: a
   local gold crawl takes 0.1-0.2 s, and the definition looks before it waits (statemachine/README).
5. Athena results: moto answers GetQueryResults with an empty result unless a test queues one.
   When the local query hands back rows (``LocalWork.results``), GetQueryResults returns them and
   they are written as CSV to the execution's OutputLocation in moto's S3, where awswrangler
   reads them, as Athena writes its results there.
6. Firehose: moto writes each PutRecord(Batch) call as one S3 object of its own. With
   :class:`FirehoseHooks` given to :func:`install`, the records go to them instead (``medallion
   serve`` buffers them into the lake's landing folder), and a record they refuse is reported
   per record (``ErrorCode``, ``FailedPutCount``), as Firehose does.
7. Poll interval: moto's ``.sync`` Tasks look every 0.5 s (``_DELAY_SECONDS_SYNC_CONDITION_CHECK``):
   nine view Tasks of milliseconds each waited it out; every 20 ms took a third of a core (each
   look is a boto3 call through moto). Locally a Task waits after each look, longer each time, up
   to a second, and looks again once a local work ends (``moto_lean.backing_off``).
8. One parse of a definition per run: the tree moto's validation builds at creation serves the
   next execution instead of a second parse (:mod:`medallion.local.moto_asl` says why it is safe).
9-11. No EC2 models imported for one Batch enum; one boto3 client per service; history events
   and executions' ends wake the local waiters (``moto_lean``).
12. The local lake is a directory, not a bucket in moto's S3: an ``aws-sdk:s3:getObject`` of its
   bucket is answered from it (:mod:`medallion.local.moto_lake_objects`).
Every patch wraps the moto function it replaces and :func:`uninstall` restores them all.
``tests/medallion/local/test_moto_patches.py`` fails if moto changes under them.
"""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, Protocol, cast

import moto

from medallion.local import moto_lean

MOTO_VERSION: Final = "5.2.5"


class MotoVersionError(RuntimeError):
    """moto is not the version these patches were written and tested against."""


def check_moto_version(version: str | None = None) -> None:
    """Refuse to patch any moto but :data:`MOTO_VERSION`.

    Raises
    ------
    MotoVersionError
        When the installed moto is another version.
    """
    found = version or moto.__version__
    if found != MOTO_VERSION:
        raise MotoVersionError(
            f"medallion.local patches moto {MOTO_VERSION}, found {found}: re-check every patch "
            "in medallion/local/moto_patches.py against the new moto, then update MOTO_VERSION"
        )


check_moto_version()
moto_lean.defer_batch_backend()  # patch 9, before moto's Step Functions engine is imported
# Imported after both: these private modules are what the patches depend on.
from moto.athena import models as athena_models  # noqa: E402
from moto.athena import responses as athena_responses  # noqa: E402
from moto.firehose import exceptions as firehose_exceptions  # noqa: E402
from moto.firehose import models as firehose_models  # noqa: E402
from moto.glue import models as glue_models  # noqa: E402
from moto.s3.models import s3_backends  # noqa: E402
from moto.s3.utils import bucket_and_name_from_url  # noqa: E402
from moto.sns import models as sns_models  # noqa: E402
from moto.stepfunctions.parser.asl.component.state.exec.state_task import (  # noqa: E402
    state_task_factory,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: E402
    state_task_service_callback,
    state_task_service_glue,
)
from moto.stepfunctions.parser.backend import execution_worker  # noqa: E402

from medallion.local import moto_asl  # noqa: E402
from medallion.local.moto_athena_sync import _CALLBACK, AthenaSyncService  # noqa: E402
from medallion.local.moto_lake_objects import LakeObjectsService  # noqa: E402


class LocalWork(Protocol):
    """Work running behind a moto resource; ``state`` is RUNNING, SUCCEEDED or FAILED."""

    @property
    def state(self) -> str: ...

    @property
    def error_message(self) -> str: ...

    def wait(self, timeout: float | None = None) -> None:
        """Return once the work ended, or after ``timeout`` seconds."""


class LocalHooks(Protocol):
    """What the local services do when the state machine calls Glue, Athena or SNS."""

    def start_job_run(self, job_name: str, run_id: str, arguments: Mapping[str, str]) -> LocalWork:
        """Start a job run; called after moto recorded it."""

    def start_crawler(self, crawler_name: str, targets: Mapping[str, Any]) -> LocalWork:
        """Start a crawl; called after moto recorded it."""

    def start_query(self, query: str, database: str, workgroup: str) -> LocalWork:
        """Start an Athena query; called after moto recorded it."""

    def publish(self, topic_arn: str, subject: str, message: str) -> None:
        """Deliver an SNS message; called after moto accepted it."""

    def lake_object(self, bucket: str, key: str) -> bytes | None:
        """An object of the local lake (KeyError when it has none so named); None when the
        bucket is not the lake's (moto's S3 answers)."""


_LOCAL: Final = "_medallion_local"
CRAWL_LOOK_SECONDS: Final = 1.0  # a local poll interval: the most a running crawl delays a look


class FirehoseHooks(Protocol):
    """Where the records of Firehose's PutRecord and PutRecordBatch go."""

    def put_records(self, stream: str, records: list[bytes]) -> list[dict[str, str]]:
        """Take the records; one response each: ``RecordId``, or ``ErrorCode`` and
        ``ErrorMessage`` for a record refused (not delivered)."""


class ServiceUnavailableException(firehose_exceptions.FirehoseException):
    """A PutRecord refused as a whole (Firehose's answer when it is over its limits)."""

    def __init__(self, message: str) -> None:
        super().__init__("ServiceUnavailableException", message)


_hooks: LocalHooks | None = None
_firehose: FirehoseHooks | None = None
_originals: dict[tuple[Any, str], tuple[Any, bool]] = {}
_lock = threading.Lock()


def active_hooks() -> LocalHooks | None:
    """The hooks the patched moto calls, or None (plain moto behaviour)."""
    return _hooks


def _local(obj: Any) -> LocalWork | None:
    return cast("LocalWork | None", getattr(obj, _LOCAL, None))


def _remember(owner: Any, name: str) -> None:
    # Inherited attributes (ManagedState.status) are restored by deleting the override.
    _originals.setdefault((owner, name), (inspect.getattr_static(owner, name), name in vars(owner)))


def _patch(owner: Any, name: str, replacement: Any) -> None:
    _remember(owner, name)
    setattr(owner, name, replacement)


def _original(owner: Any, name: str) -> Any:
    return _originals[(owner, name)][0]


def _patch_service_factory() -> None:
    original = _original(state_task_factory, "state_task_service_for")

    def state_task_service_for(service_name: str) -> Any:
        if service_name == "athena":
            return AthenaSyncService()
        if service_name == "aws-sdk":
            return LakeObjectsService(active_hooks)
        return original(service_name=service_name)

    _patch(state_task_factory, "state_task_service_for", state_task_service_for)


def _patch_context_start_time() -> None:
    original = _original(execution_worker.ExecutionWorker, "_get_evaluation_environment")

    def environment(self: Any) -> Any:
        env = original(self)
        execution = env.states.context_object.context_object_data["Execution"]
        started = execution.get("StartTime")
        if isinstance(started, datetime):
            started = started.astimezone(UTC)
            execution["StartTime"] = (
                started.strftime("%Y-%m-%dT%H:%M:%S.") + f"{started.microsecond // 1000:03d}Z"
            )
        return env

    _patch(execution_worker.ExecutionWorker, "_get_evaluation_environment", environment)


def _patch_glue() -> None:
    start_job_run = _original(glue_models.GlueBackend, "start_job_run")
    job_run_status = _original(glue_models.FakeJobRun, "status")
    job_run_as_dict = _original(glue_models.FakeJobRun, "as_dict")
    start_crawler = _original(glue_models.FakeCrawler, "start_crawler")
    crawler_as_dict = _original(glue_models.FakeCrawler, "as_dict")
    crawl_status = _original(glue_models.FakeCrawl, "status")

    def patched_start_job_run(
        self: Any, name: str, arguments: dict[str, str] | None, *args: Any, **kwargs: Any
    ) -> str:
        run_id: str = start_job_run(self, name, arguments, *args, **kwargs)
        if _hooks is not None:
            job_run = self.get_job(name).get_job_run(run_id)
            setattr(job_run, _LOCAL, _hooks.start_job_run(name, run_id, job_run.arguments or {}))
        return run_id

    def run_status(self: Any) -> str | None:
        work = _local(self)
        return work.state if work is not None else job_run_status.fget(self)

    def run_as_dict(self: Any) -> dict[str, Any]:
        described: dict[str, Any] = job_run_as_dict(self)
        work = _local(self)
        if work is not None and work.error_message:
            described["ErrorMessage"] = work.error_message
        return described

    def patched_start_crawler(self: Any) -> None:
        start_crawler(self)
        if _hooks is not None:
            setattr(self.crawls[-1], _LOCAL, _hooks.start_crawler(self.name, self.targets or {}))

    def crawl_state(self: Any) -> str | None:
        work = _local(self)
        if work is None:
            return crawl_status.fget(self)
        # FakeCrawler reports READY for COMPLETED or FAILED crawls.
        return {"SUCCEEDED": "COMPLETED"}.get(work.state, work.state)

    def patched_crawler_as_dict(self: Any) -> dict[str, Any]:
        work = _local(self.crawls[-1]) if self.crawls else None
        if work is not None and work.state == "RUNNING":
            work.wait(CRAWL_LOOK_SECONDS)
        described: dict[str, Any] = crawler_as_dict(self)
        if work is not None and "LastCrawl" in described:
            # AWS's LastCrawl.Status vocabulary is SUCCEEDED | CANCELLED | FAILED.
            described["LastCrawl"]["Status"] = work.state
            if work.error_message:
                described["LastCrawl"]["ErrorMessage"] = work.error_message
        return described

    _patch(glue_models.GlueBackend, "start_job_run", patched_start_job_run)
    _patch(glue_models.FakeJobRun, "status", property(run_status, job_run_status.fset))
    _patch(glue_models.FakeJobRun, "as_dict", run_as_dict)
    _patch(glue_models.FakeCrawler, "start_crawler", patched_start_crawler)
    _patch(glue_models.FakeCrawler, "as_dict", patched_crawler_as_dict)
    _patch(glue_models.FakeCrawl, "status", property(crawl_state, crawl_status.fset))


def _patch_athena() -> None:
    start_query_execution = _original(athena_models.AthenaBackend, "start_query_execution")
    execution_status = _original(athena_models.Execution, "status")
    get_query_execution = _original(athena_responses.AthenaResponse, "get_query_execution")
    get_query_results = _original(athena_models.AthenaBackend, "get_query_results")

    def patched_start(
        self: Any, query: str, context: Any, config: Any, workgroup: str, *args: Any, **kwargs: Any
    ) -> str:
        query_id: str = start_query_execution(
            self, query, context, config, workgroup, *args, **kwargs
        )
        if _hooks is not None:
            database = (context or {}).get("Database", "") if isinstance(context, dict) else ""
            execution = self.executions[query_id]
            _workgroup_output(execution, query_id)
            work = _hooks.start_query(query, database, workgroup or "primary")
            setattr(execution, _LOCAL, work)
        return query_id

    def status(self: Any) -> str | None:
        work = _local(self)
        return work.state if work is not None else execution_status.fget(self)

    def patched_get_query_execution(self: Any) -> str:
        query_id = self._get_param("QueryExecutionId")
        _settle_results(self.athena_backend, query_id)
        body: str = get_query_execution(self)
        execution = self.athena_backend.executions[query_id]
        work = _local(execution)
        if work is None or not work.error_message:
            return body
        described = json.loads(body)
        described["QueryExecution"]["Status"]["StateChangeReason"] = work.error_message
        return json.dumps(described)

    def patched_get_query_results(self: Any, exec_id: str) -> Any:
        _settle_results(self, exec_id)
        return get_query_results(self, exec_id)

    _patch(athena_models.AthenaBackend, "start_query_execution", patched_start)
    _patch(athena_models.AthenaBackend, "get_query_results", patched_get_query_results)
    _patch(athena_models.Execution, "status", property(status, execution_status.fset))
    _patch(athena_responses.AthenaResponse, "get_query_execution", patched_get_query_execution)


def _workgroup_output(execution: Any, query_id: str) -> None:
    """A query started without a result location writes to its workgroup's, as on Athena (moto
    keeps only the request's ResultConfiguration)."""
    configuration = getattr(execution.workgroup, "configuration", None) or {}
    location = (configuration.get("ResultConfiguration") or {}).get("OutputLocation")
    if location and not (execution.config or {}).get("OutputLocation"):
        execution.config = {
            **(execution.config or {}),
            "OutputLocation": f"{location.rstrip('/')}/{query_id}.csv",
        }


def _settle_results(backend: Any, query_id: str) -> None:
    """Once a local query succeeded: its rows become the execution's results, and its CSV is put
    at the execution's OutputLocation in moto's S3 (where awswrangler reads them), once."""
    execution = backend.executions.get(query_id)
    work = _local(execution) if execution is not None else None
    results = getattr(work, "results", None)
    if work is None or results is None or work.state != "SUCCEEDED":
        return
    if query_id in backend.query_results:
        return
    backend.query_results[query_id] = athena_models.QueryResults(
        rows=results.rows, column_info=results.column_info
    )
    location = (execution.config or {}).get("OutputLocation")
    if location:
        bucket, key = bucket_and_name_from_url(location)
        if bucket and key:
            s3_backends[backend.account_id][backend.partition].put_object(
                bucket_name=bucket, key_name=key, value=results.csv.encode("utf-8")
            )


def _patch_sns() -> None:
    publish = _original(sns_models.SNSBackend, "publish")

    def patched_publish(self: Any, message: str, arn: str | None, *args: Any, **kwargs: Any) -> str:
        message_id: str = publish(self, message, arn, *args, **kwargs)
        if _hooks is not None and arn:
            subject = kwargs.get("subject") or (args[1] if len(args) > 1 else None) or ""
            _hooks.publish(arn, subject, message)
        return message_id

    _patch(sns_models.SNSBackend, "publish", patched_publish)


def _patch_firehose() -> None:
    put_record_batch = _original(firehose_models.FirehoseBackend, "put_record_batch")
    put_record = _original(firehose_models.FirehoseBackend, "put_record")

    def patched_put_record_batch(self: Any, name: str, records: list[dict[str, Any]]) -> Any:
        if _firehose is None:
            return put_record_batch(self, name, records)
        if name not in self.delivery_streams:
            raise firehose_exceptions.ResourceNotFoundException(
                f"Firehose {name} under account {self.account_id} not found."
            )
        responses = _firehose.put_records(name, [_record_bytes(r["Data"]) for r in records])
        return {
            "FailedPutCount": sum("ErrorCode" in r for r in responses),
            "Encrypted": False,
            "RequestResponses": responses,
        }

    def patched_put_record(self: Any, name: str, record: dict[str, Any]) -> Any:
        if _firehose is None:
            return put_record(self, name, record)
        [response] = patched_put_record_batch(self, name, [record])["RequestResponses"]
        if "ErrorCode" in response:
            raise ServiceUnavailableException(response.get("ErrorMessage", "Slow down."))
        return {"RecordId": response["RecordId"], "Encrypted": False}

    _patch(firehose_models.FirehoseBackend, "put_record_batch", patched_put_record_batch)
    _patch(firehose_models.FirehoseBackend, "put_record", patched_put_record)


def _record_bytes(data: Any) -> bytes:
    """A record's Data as the producer's bytes (moto's parser has decoded the base64 blob)."""
    return data if isinstance(data, bytes) else str(data).encode("utf-8")


def _patch_sync_polling() -> None:
    # moto's loop sleeps its module constant after each unfinished look: zero, since the
    # resolver handed to it now waits, longer each time.
    callback = state_task_service_callback.StateTaskServiceCallback
    original = _original(callback, "_eval_sync")

    def _eval_sync(
        self: Any,
        env: Any,
        sync_resolver: Any,
        timeout_seconds: Any,
        callback_endpoint: Any,
        heartbeat_endpoint: Any,
    ) -> Any:
        resolver = moto_lean.backing_off(sync_resolver) if sync_resolver is not None else None
        return original(self, env, resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint)

    _patch(callback, "_eval_sync", _eval_sync)
    _patch(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", 0.0)


def _remember_originals() -> None:
    for owner, name in (
        (state_task_factory, "state_task_service_for"),
        (execution_worker.ExecutionWorker, "_get_evaluation_environment"),
        (glue_models.GlueBackend, "start_job_run"),
        (state_task_service_callback.StateTaskServiceCallback, "_eval_sync"),
        (glue_models.FakeJobRun, "status"),
        (glue_models.FakeJobRun, "as_dict"),
        (glue_models.FakeCrawler, "start_crawler"),
        (glue_models.FakeCrawler, "as_dict"),
        (glue_models.FakeCrawl, "status"),
        (athena_models.AthenaBackend, "start_query_execution"),
        (athena_models.Execution, "status"),
        (athena_models.AthenaBackend, "get_query_results"),
        (athena_responses.AthenaResponse, "get_query_execution"),
        (firehose_models.FirehoseBackend, "put_record_batch"),
        (firehose_models.FirehoseBackend, "put_record"),
        (sns_models.SNSBackend, "publish"),
        (state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK"),
    ):
        _remember(owner, name)


def install(hooks: LocalHooks | None = None, firehose: FirehoseHooks | None = None) -> None:
    """Apply every patch (idempotent) and route Glue, Athena and SNS work to ``hooks``.

    Parameters
    ----------
    hooks
        The local services; None keeps moto's own behaviour for jobs, crawls, queries and
        publishes while still fixing the two ``.sync`` integrations.
    firehose
        Where Firehose records go; None keeps moto's delivery (one S3 object per call).
    """
    global _hooks, _firehose
    with _lock:
        if not _originals:
            _remember_originals()
            state_task_service_glue._SUPPORTED_INTEGRATION_PATTERNS.add(_CALLBACK)
            _patch_service_factory()
            _patch_context_start_time()
            _patch_glue()
            _patch_athena()
            _patch_sns()
            _patch_firehose()
            _patch_sync_polling()
            moto_asl.install()
            for owner, name, replacement in [
                *moto_lean.reuse_clients(),
                *moto_lean.signalling_changes(),
            ]:
                _patch(owner, name, replacement)
        _hooks = hooks
        _firehose = firehose


def uninstall() -> None:
    """Restore moto exactly as shipped."""
    global _hooks, _firehose
    with _lock:
        for (owner, name), (original, own) in _originals.items():
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        _originals.clear()
        state_task_service_glue._SUPPORTED_INTEGRATION_PATTERNS.discard(_CALLBACK)
        moto_asl.uninstall()
        moto_lean.forget_clients()
        _hooks = None
        _firehose = None


def installed() -> bool:
    """Whether the patches are applied."""
    return bool(_originals)
