"""``medallion serve``: the pipeline's AWS surface on 127.0.0.1 until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from medallion.cli import options
from medallion.cli.errors import ExitCode, exit_with, handled
from medallion.cli.output import console
from medallion.serve import DEFAULT_PORT, HOST

if TYPE_CHECKING:
    from medallion.serve.endpoint import Endpoint

Port = Annotated[
    int,
    typer.Option(
        min=0,
        max=65535,
        help=f"Port on {HOST}; 0 picks a free one (printed).",
        envvar="MEDALLION_SERVE_PORT",
    ),
]
Host = Annotated[
    str,
    typer.Option(help=f"Only {HOST} is accepted: the endpoint checks no credentials.", hidden=True),
]
BufferSize = Annotated[
    float,
    typer.Option(
        "--buffer-size-mib",
        min=0.001,
        max=128,
        help="Firehose buffering hint: write an object when this many MiB are buffered.",
        envvar="MEDALLION_FIREHOSE_BUFFER_MIB",
    ),
]
BufferInterval = Annotated[
    float,
    typer.Option(
        "--buffer-interval",
        min=0,
        max=900,
        help="Firehose buffering hint: write an object this many seconds after its oldest record.",
        envvar="MEDALLION_FIREHOSE_BUFFER_SECONDS",
    ),
]
FailureRate = Annotated[
    float,
    typer.Option(
        "--firehose-failure-rate",
        min=0.0,
        max=0.99,
        help="Fault injection: refuse this share of Firehose records the first time they are "
        "sent (PutRecordBatch reports them failed), to try a producer's retries.",
        envvar="MEDALLION_FIREHOSE_FAILURE_RATE",
    ),
]


def serve(
    lake: options.Lake = Path("lake"),
    port: Port = DEFAULT_PORT,
    host: Host = HOST,
    buffer_size_mib: BufferSize = 5.0,
    buffer_interval: BufferInterval = 60.0,
    firehose_failure_rate: FailureRate = 0.0,
) -> None:
    """Answer the AWS APIs the pipeline uses on 127.0.0.1 (Step Functions running the real
    definition with local Glue jobs, Firehose into the lake's landing folder, Athena on DuckDB,
    the Glue catalog, SNS alerts over SMTP) until Ctrl-C or SIGTERM."""
    from medallion.serve.delivery import BufferHints
    from medallion.serve.endpoint import ServeConfig, ServeError, serving

    config = ServeConfig(
        lake=lake,
        port=port,
        host=host,
        hints=BufferHints(buffer_size_mib, buffer_interval),
        failure_rate=firehose_failure_rate,
    )
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # handled(): a lake a local run holds is the shared error, exit 1, as run's is.
        with handled(), serving(config) as endpoint:
            console().print(banner(endpoint), highlight=False, soft_wrap=True)
            while not stopping.wait(0.5):
                pass
            console().print("stopping: writing what the delivery stream holds", highlight=False)
        stats = endpoint.delivery_stream.stats
        console().print(
            f"stopped; {endpoint.delivery_stream.name} wrote {stats.records_written:,} records "
            f"in {stats.objects:,} objects ({stats.refused:,} refused by fault injection)",
            highlight=False,
        )
    except ServeError as err:
        raise exit_with(ExitCode.USAGE, str(err)) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def banner(endpoint: Endpoint) -> str:
    """What the user needs to point tools at the endpoint, with commands to copy."""
    url, arn, stream = endpoint.url, endpoint.state_machine_arn, endpoint.delivery_stream
    aws = f"aws --endpoint-url {url} --region {endpoint.region}"
    return "\n".join(
        [
            f"medallion serve: listening on {url} (127.0.0.1 only; no credentials are checked)",
            f"  lake            {endpoint.lake}",
            f"  state machine   {arn}",
            f"  delivery stream {stream.name} -> {stream.landing} "
            f"(objects at {stream.hints.size_mib:g} MiB or {stream.hints.interval_seconds:g} s)",
            f"  Athena          workgroup {endpoint.workgroup}, databases bronze, silver, gold",
            "Any access key works, e.g. AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing.",
            "Try:",
            f"  medallion stream --endpoint-url {url} --region {endpoint.region} "
            f"--stream {stream.name}",
            f"  {aws} stepfunctions start-execution --state-machine-arn {arn}",
            f"  medallion start --endpoint-url {url} --region {endpoint.region} "
            f"--state-machine-arn {arn} --wait",
            f"  medallion query --aws --endpoint-url {url} --region {endpoint.region} "
            f"--workgroup {endpoint.workgroup} 'select * from v_run_ledger'",
            f"  {aws} glue get-tables --database-name silver",
            "Stop with Ctrl-C (the delivery stream's buffer is written first).",
        ]
    )


def register(app: typer.Typer) -> None:
    """Add ``medallion serve``."""
    app.command("serve")(serve)
