"""Fixtures of the database-source tests: one real PostgreSQL server on 127.0.0.1 for the
session (its own data directory, a free port, stopped at the end), and one warm job host that
runs the real bronze and silver scripts the way `medallion run` does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jdbc_support import TABLE, Shop

from medallion.local.jobhost import JobHostRunner
from medallion.local.jobrunner import DEFAULT_JDBC_JARS
from medallion.sample.pgserver import LocalPostgres, postgres_bin


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    if postgres_bin() is None or not Path(DEFAULT_JDBC_JARS[0]).is_file():
        pytest.fail("PostgreSQL and its JDBC driver are needed: run scripts/setup.sh")
    server = LocalPostgres().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def warm_jobs(quick_jit: dict[str, str]) -> Iterator[JobHostRunner]:
    with JobHostRunner(quick_jit) as hosts:
        yield hosts


@pytest.fixture
def shop(
    postgres: LocalPostgres, warm_jobs: JobHostRunner, tmp_path: Path, request: Any
) -> Callable[..., Shop]:
    def make(rows: int = 40, mode: str = "incremental") -> Shop:
        schema = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:40].lower()
        postgres.execute(TABLE.format(schema=schema, rows=rows))
        made = Shop(postgres, warm_jobs, tmp_path, schema)
        made.write_contract(mode)
        return made

    return make
