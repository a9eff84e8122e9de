"""The local Athena hands its DuckDB rows back: GetQueryResults and the result CSV awswrangler
reads, as Athena gives them (moto alone answers every query with no rows)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest

from medallion.aws.athena import run_athena
from medallion.local import moto_patches
from medallion.local.services import LocalServices

SQL = (
    "select 1 as n, 'say \"hi\", it''s' as quote, cast(2.50 as decimal(10,2)) as price, "
    "cast(null as varchar) as missing, date '2026-12-01' as day, true as flag, "
    "cast(7 as bigint) as big, cast(0.25 as double) as share, array[1, 2] as pair, "
    "(select sum(v) from (values cast(1 as bigint), cast(2 as bigint)) as t(v)) as total"
)
HEADER = ["n", "quote", "price", "missing", "day", "flag", "big", "share", "pair", "total"]


@pytest.fixture
def athena(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    (tmp_path / "lake").mkdir()
    services = LocalServices(lake_root=tmp_path / "lake", jobs={}, crawlers={})
    moto_patches.install(services)
    try:
        with mock_aws():
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="results")
            client = boto3.client("athena", region_name="us-east-1")
            client.create_work_group(
                Name="wg",
                Configuration={
                    "ResultConfiguration": {"OutputLocation": "s3://results/out/"},
                    "EnforceWorkGroupConfiguration": True,
                },
            )
            yield client
    finally:
        moto_patches.uninstall()


def test_get_query_results_and_the_result_csv_hold_the_rows(athena: Any) -> None:
    query_id = athena.start_query_execution(QueryString=SQL, WorkGroup="wg")["QueryExecutionId"]
    deadline = time.monotonic() + 30
    while (described := athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"])[
        "Status"
    ]["State"] in ("QUEUED", "RUNNING"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert described["Status"]["State"] == "SUCCEEDED"
    # No location in the request: the workgroup's, as on Athena.
    location = described["ResultConfiguration"]["OutputLocation"]
    assert location == f"s3://results/out/{query_id}.csv"

    result = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]
    rows = [[cell.get("VarCharValue") for cell in row["Data"]] for row in result["Rows"]]
    assert rows == [
        HEADER,
        ["1", 'say "hi", it\'s', "2.50", None, "2026-12-01", "true", "7", "0.25", "[1, 2]", "3"],
    ]
    # The types Athena gives (Trino's: a literal 1 is an integer), a decimal's precision and
    # scale in fields of their own, its value with its scale: DuckDB's DataFrames would hold it
    # as the double 2.5.
    columns = {c["Name"]: c for c in result["ResultSetMetadata"]["ColumnInfo"]}
    assert {name: c["Type"] for name, c in columns.items()} == {
        "n": "integer", "quote": "varchar", "price": "decimal", "missing": "varchar",
        "day": "date", "flag": "boolean", "big": "bigint", "share": "double", "pair": "array",
        "total": "bigint",  # Trino sums bigints to a bigint (DuckDB to a HUGEINT)
    }  # fmt: skip
    assert (columns["price"]["Precision"], columns["price"]["Scale"]) == (10, 2)

    body = (
        boto3.client("s3", region_name="us-east-1")
        .get_object(Bucket="results", Key=f"out/{query_id}.csv")["Body"]
        .read()
        .decode()
    )
    assert list(csv.reader(io.StringIO(body))) == [
        HEADER,
        ["1", 'say "hi", it\'s', "2.50", "", "2026-12-01", "true", "7", "0.25", "[1, 2]", "3"],
    ]
    # NULL is an empty unquoted field, an empty string a quoted one (Athena's CSV).
    assert ',"2.50",,"2026-12-01",' in body.splitlines()[1]


def test_awswrangler_reads_the_rows(athena: Any) -> None:
    result = run_athena(SQL, "wg", "gold", region="us-east-1")
    row = result.frame.iloc[0].to_dict()
    assert row["n"] == 1 and row["quote"] == 'say "hi", it\'s' and bool(row["flag"]) is True
    assert row["price"] == Decimal("2.50")  # a Decimal, as awswrangler reads Athena's decimals
    assert row["big"] == 7 and row["share"] == 0.25 and row["total"] == 3
    assert pd.isna(row["missing"])
    assert str(row["day"]) == "2026-12-01"
