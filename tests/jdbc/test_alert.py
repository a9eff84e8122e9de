"""A database that refuses the password fails the run at the bronze job, and the one alert email
names the source and the reason, without the password (the state machine run locally, the real
bronze job, a real PostgreSQL server, a real SMTP server on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jdbc_support import Shop
from smtp_support import SmtpServer

from medallion.aws.stepfunctions import RunOptions
from medallion.local import pipeline
from medallion.local.jobrunner import JobResult
from medallion.local.services import AlertSettings


def test_a_refused_password_fails_the_run_with_one_alert_naming_the_source(
    shop: Callable[..., Shop], smtp_inbox: SmtpServer
) -> None:
    s = shop(rows=3)
    inbox, port = smtp_inbox.inbox, smtp_inbox.port
    wrong = s.postgres.url().replace(s.postgres.password, "wrong-example-password")

    def runner(layer: str, options: Mapping[str, str], **kwargs: Any) -> JobResult:
        return s.hosts(layer, options, env={"MEDALLION_DB_URL": wrong}, **kwargs)

    config = pipeline.LocalRunConfig(
        lake=s.lake,
        contracts_root=s.contracts,
        alerts=AlertSettings(host="127.0.0.1", port=port),
        job_runner=runner,
    )
    run = pipeline.run_local(config, RunOptions(run_id="refused-1", datasets="customers"))
    assert run.status == "FAILED"
    assert "SourceError: customers: cannot read" in run.cause
    (message,) = inbox.messages
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    assert "Bronze job" in body
    assert f"jdbc:postgresql/{s.schema}.customers" in body
    assert "password authentication failed" in body
    assert "wrong-example-password" not in body and s.postgres.password not in body
    assert "Traceback" not in body
    assert not (Path(s.lake) / "_meta" / "watermarks").exists()
