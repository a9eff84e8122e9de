"""``medallion stream``: replay order lines as events into a Firehose delivery stream."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from medallion.cli import options
from medallion.cli.errors import ExitCode, exit_with, handled
from medallion.cli.output import console

if TYPE_CHECKING:
    from medallion.aws.firehose import StreamStats

DeliveryStream = Annotated[
    str | None,
    typer.Option(
        "--stream",
        help="The Firehose delivery stream to write to [default: the OrderStreamName output of "
        "the stack of --env].",
        envvar="MEDALLION_DELIVERY_STREAM",
        show_default=False,
    ),
]

Source = Annotated[
    Path | None,
    typer.Option(
        help="An order_lines CSV export to replay [default: generated order lines].",
        envvar="MEDALLION_STREAM_SOURCE",
        show_default=False,
    ),
]

OrderLines = Annotated[
    int,
    typer.Option(
        min=1,
        max=10_000_000,
        help="Order lines to generate when no --source is given.",
        envvar="MEDALLION_ORDER_LINES",
    ),
]

Seed = Annotated[
    int, typer.Option(help="Seed of the generated order lines.", envvar="MEDALLION_SEED")
]

Rate = Annotated[
    float,
    typer.Option(
        min=0.0,
        help="Events per second; 0 sends as fast as the stream takes them.",
        envvar="MEDALLION_STREAM_RATE",
    ),
]

CheckpointFile = Annotated[
    Path | None,
    typer.Option(
        help="Keep the count of acknowledged events here; a stream started again with the "
        "same source and checkpoint resumes after them.",
        envvar="MEDALLION_STREAM_CHECKPOINT",
        show_default=False,
    ),
]

MaxAttempts = Annotated[
    int,
    typer.Option(
        min=1,
        help="Attempts per batch before the stream stops (its checkpoint stays).",
        envvar="MEDALLION_STREAM_MAX_ATTEMPTS",
    ),
]


def stream(
    delivery_stream: DeliveryStream = None,
    source: Source = None,
    order_lines: OrderLines = 1000,
    seed: Seed = 42,
    rate: Rate = 0.0,
    checkpoint: CheckpointFile = None,
    max_attempts: MaxAttempts = 10,
    env: options.OptionalEnv = None,
    region: options.Region = None,
    endpoint_url: options.EndpointUrl = None,
) -> None:
    """Replay order lines as events into a Firehose delivery stream with PutRecordBatch: only
    the records a batch reports as failed are sent again, with backoff; none is dropped."""
    from medallion.aws.firehose import Checkpoint, Producer, delivery_stream_name, read_events
    from medallion.cli.bars import stream_progress
    from medallion.sample.generate import generate

    if source is not None and not source.is_file():
        raise exit_with(ExitCode.USAGE, f"--source {source} is not a file")
    if delivery_stream is None:
        if env is None:
            raise exit_with(
                ExitCode.USAGE,
                "no stream: pass --stream NAME, or --env ENV to send to its stack's order stream",
            )
        with handled():
            delivery_stream = delivery_stream_name(env, endpoint_url, region)
    with tempfile.TemporaryDirectory(prefix="medallion-stream-") as scratch:
        if source is None:
            generate(Path(scratch), order_lines, seed)
            source = Path(scratch) / "order_lines" / "order_lines.csv"
        with handled(), stream_progress(console(stderr=True)) as progress:
            digest, events = read_events(source)
            task = progress.add_task("events", total=len(events))

            def advance(stats: StreamStats) -> None:
                progress.update(task, completed=stats.acknowledged)

            producer = Producer(
                delivery_stream,
                endpoint_url=endpoint_url,
                region=region,
                rate=rate,
                max_attempts=max_attempts,
                on_batch=advance,
            )
            stats = producer.send(events, Checkpoint(checkpoint, digest))
    console().print(_summary(stats, delivery_stream), highlight=False)


def _summary(stats: StreamStats, delivery_stream: str) -> str:
    resumed = (
        f", resumed after {stats.resumed_from:,} acknowledged before" if stats.resumed_from else ""
    )
    malformed = (
        f" ({stats.malformed:,} lines whose fields do not match the header sent as they are)"
        if stats.malformed
        else ""
    )
    return (
        f"{delivery_stream}: {stats.acknowledged - stats.resumed_from:,} events acknowledged"
        f"{malformed} "
        f"in {stats.batches:,} batches ({stats.per_second:,.0f} events/s){resumed}; "
        f"{stats.retried:,} sent again, {stats.failed:,} failed"
    )


def register(app: typer.Typer) -> None:
    """Add ``medallion stream`` to the CLI."""
    app.command(name="stream")(stream)
