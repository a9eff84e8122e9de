"""``medallion serve``'s endpoint: moto's server on 127.0.0.1 with the local services behind it.

One process holds everything:

- moto in-process (``mock_aws``) with the pipeline's resources, created as ``medallion run``
  creates them (:func:`medallion.local.pipeline.local_aws`), so the Step Functions engine's own
  calls to Glue, Athena and SNS stay inside the process and reach the local services;
- moto's HTTP server (``ThreadedMotoServer``) on 127.0.0.1, answering from the same moto
  backends, so the AWS CLI, boto3 and awswrangler see the state machine, the Glue catalog the
  crawlers fill, Athena on DuckDB and the delivery stream;
- a job host that runs each Glue job run as Glue launches it, and a Firehose delivery stream
  that buffers records into ``<lake>/landing/order_lines/stream/``
  (:mod:`medallion.serve.delivery`).

It binds to 127.0.0.1 only: moto checks no signature, so anyone who can reach the port can start
runs and read the lake.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from medallion.local import pipeline
from medallion.local.lakelock import lake_held
from medallion.serve import DEFAULT_PORT, HOST
from medallion.serve.delivery import BufferHints, LocalDeliveryStream

DELIVERY_STREAM = "medallion-local-orders"
STREAM_PREFIX = "landing/order_lines/stream/"
LANDING_BUCKET = "medallion-local-lake"  # moto's record of the destination; objects go to disk


class ServeError(RuntimeError):
    """The endpoint cannot start: another host asked for, or the port is taken."""


@dataclass(frozen=True)
class ServeConfig:
    """What ``medallion serve`` was asked for.

    Parameters
    ----------
    lake
        The local lake directory.
    port
        The port on 127.0.0.1; 0 picks a free one.
    host
        Must be 127.0.0.1 (anything else is refused).
    hints
        The delivery stream's buffering hints.
    failure_rate
        Share of Firehose records refused on first sight (fault injection).
    """

    lake: Path
    port: int = DEFAULT_PORT
    host: str = HOST
    hints: BufferHints = field(default_factory=BufferHints)
    failure_rate: float = 0.0


@dataclass
class Endpoint:
    """A running endpoint: where it listens and the names users type."""

    url: str
    lake: Path
    state_machine_arn: str
    delivery_stream: LocalDeliveryStream
    workgroup: str = pipeline.WORKGROUP
    region: str = pipeline.REGION
    services: Any = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.url.rsplit(":", 1)[1])


def check_host(host: str) -> None:
    """Refuse any address but 127.0.0.1."""
    if host != HOST:
        raise ServeError(
            f"medallion serve listens on {HOST} only, not {host}: the endpoint checks no "
            "credentials, so it must not be reachable from another machine"
        )


def _check_port(port: int) -> None:
    """A taken port is one line now (moto's server thread would hang on it)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as err:
            raise ServeError(
                f"port {port} on {HOST} is taken ({err.strerror}): pass --port 0 for a free one"
            ) from None


def _create_delivery_stream(session: Any) -> None:
    """The stream as the stack declares it: Direct PUT, GZIP, under landing/order_lines/stream/."""
    session.client("s3").create_bucket(Bucket=LANDING_BUCKET)
    session.client("firehose").create_delivery_stream(
        DeliveryStreamName=DELIVERY_STREAM,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": pipeline.ROLE_ARN,
            "BucketARN": f"arn:aws:s3:::{LANDING_BUCKET}",
            "Prefix": STREAM_PREFIX,
            # as the stack: outside landing/, so neither bronze nor runs on arrival see it
            "ErrorOutputPrefix": "landing-errors/stream/",
            "CompressionFormat": "GZIP",
        },
    )


@contextmanager
def serving(config: ServeConfig) -> Iterator[Endpoint]:
    """Run the endpoint until the ``with`` block ends; then flush Firehose and stop.

    Yields
    ------
    Endpoint
        Its URL, the state machine ARN and the delivery stream.

    Raises
    ------
    ServeError
        Another host, or a taken port.
    medallion.local.lakelock.LakeBusy
        A local run holds the lake.
    """
    import boto3
    from moto.server import ThreadedMotoServer  # lazy: moto's server pulls in werkzeug and flask

    check_host(config.host)
    _check_port(config.port)
    # werkzeug logs every request at INFO on stderr unless told otherwise; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    lake = config.lake.resolve()
    lake.mkdir(parents=True, exist_ok=True)
    stream = LocalDeliveryStream(
        DELIVERY_STREAM,
        landing=lake / STREAM_PREFIX,
        staging=lake / "_meta" / "firehose",
        hints=config.hints,
        failure_rate=config.failure_rate,
    )
    run_config = pipeline.LocalRunConfig(lake=lake)
    with (
        # Held while the endpoint serves: its executions' jobs write to the lake, so a
        # ``medallion run`` on it is refused meanwhile, and serve on a lake a run holds raises
        # LakeBusy (executions through the endpoint are held apart per job, as on AWS, by each
        # Glue job's one run at a time).
        lake_held(lake, by="medallion serve"),
        pipeline.launching_jobs(run_config) as runner,
        pipeline.local_aws(replace(run_config, job_runner=runner)) as (_, arn, services),
    ):
        from medallion.local import moto_patches  # lazy, as in pipeline.local_aws

        moto_patches.install(services, firehose=stream)
        _create_delivery_stream(boto3.Session(region_name=pipeline.REGION))
        server = ThreadedMotoServer(ip_address=HOST, port=config.port, verbose=False)
        # The stream outlives the server: once no request can come in, its buffer is flushed.
        with stream:
            server.start()
            host, port = server.get_host_and_port()
            try:
                yield Endpoint(f"http://{host}:{port}", lake, arn, stream, services=services)
            finally:
                server.stop()
