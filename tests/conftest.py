"""Shared test fixtures: one local SparkSession for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from jobs.common.runtime import get_spark


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = get_spark("medallion-tests", glue=False)
    yield session
    session.stop()
