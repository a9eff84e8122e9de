"""medallion query and report: locally on a real pipeline run's lake, --aws on moto's Athena."""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[4]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from medallion.aws.athena import QueryError, QueryResult, athena_error  # noqa: E402
from medallion.cli import app  # noqa: E402
from medallion.local import catalog  # noqa: E402

runner = CliRunner()


# the local tests read the lake of one real pipeline run (tests/conftest.py)
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def lake(pipeline_lake: Path) -> Path:
    return pipeline_lake


@pytest.fixture(scope="module")
def empty_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake directory with nothing in it yet, for what does not depend on the data."""
    return tmp_path_factory.mktemp("empty-lake")


def query(lake: Path, *args: str) -> Result:
    return runner.invoke(app, ["query", "--lake", str(lake), *args])


def rfm(lake: Path) -> pd.DataFrame:
    """gold.customer_rfm as the gold job wrote it."""
    return pd.read_parquet(lake / "gold" / "customer_rfm")


def quality_runs(lake: Path) -> int:
    """How many run records the jobs wrote under quality/runs/ (one JSON line each)."""
    files = (lake / "quality" / "runs").rglob("*.json")
    return sum(1 for f in files for line in f.read_text().splitlines() if line.strip())


@slow
def test_table_output_shows_the_rows(lake: Path) -> None:
    result = query(lake, "select segment, customer_count from v_customer_segments order by 1")
    assert result.exit_code == 0, result.output
    segments = rfm(lake).segment.unique()
    assert "customer_count" in result.stdout
    assert all(segment in result.stdout for segment in segments)
    assert f"{len(segments)} rows (local DuckDB catalog)" in result.output


@slow
def test_csv_output_matches_the_mart(lake: Path) -> None:
    result = query(lake, "--format", "csv", "select customer_id, segment from customer_rfm")
    assert result.exit_code == 0, result.output
    got = pd.read_csv(io.StringIO(result.stdout))
    expected = rfm(lake)[["customer_id", "segment"]]
    pd.testing.assert_frame_equal(
        got.sort_values("customer_id").reset_index(drop=True),
        expected.sort_values("customer_id").reset_index(drop=True),
        check_dtype=False,
    )


def test_json_keeps_dates_arrays_and_nulls(empty_lake: Path) -> None:
    sql = "select date '2024-01-31' as d, array['a', 'b'] as tags, cast(null as integer) as n"
    result = query(empty_lake, "--format", "json", sql)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"d": "2024-01-31", "tags": ["a", "b"], "n": None}]


@slow
def test_parquet_needs_and_writes_a_file(lake: Path, tmp_path: Path) -> None:
    assert query(lake, "--format", "parquet", "select 1 as x").exit_code == 2
    out = tmp_path / "result.parquet"
    result = query(lake, "--format", "parquet", "--output", str(out), "select * from v_run_ledger")
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out)) == quality_runs(lake)


@slow
def test_a_bad_column_is_one_line_with_its_position(lake: Path) -> None:
    result = query(lake, "select segment,\n       segmnt\nfrom v_customer_segments")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("error: line 2:8: ")
    assert "segmnt" in lines[0] and "Traceback" not in result.output


def test_a_syntax_error_is_one_line_with_its_position(empty_lake: Path) -> None:
    result = query(empty_lake, "select *\nfrom v_run_ledger\nwhere rows_in >")
    assert result.exit_code == 1
    assert result.output.startswith("error: line 3:")
    assert len(result.output.strip().splitlines()) == 1


def test_a_missing_table_names_it(empty_lake: Path) -> None:
    result = query(empty_lake, "select * from no_such_mart")
    assert result.exit_code == 1
    assert "error: line 1:15:" in result.output and "no_such_mart" in result.output


@slow
def test_missing_views_are_created_on_first_query(lake_copy: Path) -> None:
    root = str(lake_copy)
    for layer in catalog.LAYERS:  # tables registered, the run stopped before the views
        catalog.register_layer(root, layer)
    assert "v_run_ledger" not in set(catalog.list_tables(root).name)
    result = query(lake_copy, "--format", "csv", "select count(*) as n from v_run_ledger")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["n", str(quality_runs(lake_copy))]


def test_a_missing_lake_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["query", "--lake", str(tmp_path / "nope"), "select 1"])
    assert result.exit_code == 2
    assert "no lake at" in result.output


def test_athena_positions_are_kept() -> None:
    err = athena_error("COLUMN_NOT_FOUND: line 3:12: Column 'segmnt' cannot be resolved")
    assert (err.line, err.column) == (3, 12)
    assert str(err) == "line 3:12: Column 'segmnt' cannot be resolved"
    assert isinstance(athena_error("Access denied"), QueryError)


def test_cost_is_five_dollars_per_terabyte_with_a_10_mb_minimum() -> None:
    frame = pd.DataFrame()
    assert QueryResult(frame, "athena", 1024**4).cost_usd == pytest.approx(5.0)
    assert QueryResult(frame, "athena", 0).cost_usd == pytest.approx(10 * 1024**2 / 1024**4 * 5)
    assert QueryResult(frame, "local").cost_usd is None


@slow
def test_report_prints_every_headline(lake: Path) -> None:
    result = runner.invoke(app, ["report", "--lake", str(lake)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for title in ("Monthly revenue", "Customer segments", "Inventory alerts", "Data quality"):
        assert title in result.stdout
    assert "not available" not in result.stdout
    inventory = pd.read_parquet(lake / "gold" / "inventory_health")
    assert inventory[inventory.snapshot_date == inventory.snapshot_date.max()].is_stock_out.any()
    assert "stock_out" in result.stdout and "order_lines" in result.stdout


def test_report_on_an_empty_lake_says_what_is_missing_and_fails(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--lake", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert f"no gold tables in {tmp_path}: run `medallion run` first" in result.stderr
    # the report's own SQL is not the user's: no position in it
    assert not re.search(r"line \d+:\d+", result.output)


# --- --aws against moto ---------------------------------------------------------------------------


@pytest.fixture
def moto_athena(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    moto = pytest.importorskip("moto")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with moto.mock_aws():
        import boto3

        boto3.client("s3").create_bucket(Bucket="athena-results")
        boto3.client("athena").create_work_group(
            Name="medallion-dev-analysts",
            Configuration={
                "ResultConfiguration": {"OutputLocation": "s3://athena-results/results/"},
                "EnforceWorkGroupConfiguration": True,
            },
        )
        yield


def seed_athena_results(rows: list[list[str]], types: list[str]) -> None:
    """Queue one result for the next Athena query in moto (the header row comes first)."""
    from moto.athena.models import QueryResults, athena_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    column_info = [
        {"Name": name, "Label": name, "Type": kind, "Nullable": "UNKNOWN"}
        for name, kind in zip(rows[0], types, strict=True)
    ]
    data = [{"Data": [{"VarCharValue": v} for v in row]} for row in rows]
    backend = athena_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    backend.query_results_queue.append(QueryResults(rows=data, column_info=column_info))


def test_aws_reads_athena_results_and_prints_the_cost(moto_athena: None) -> None:
    seed_athena_results(
        [["segment", "customer_count"], ["Champions", "32"], ["Lost", "22"]], ["varchar", "bigint"]
    )
    result = runner.invoke(
        app,
        [
            "query",
            "--aws",
            "--workgroup",
            "medallion-dev-analysts",
            "--database",
            "gold",
            "--region",
            "us-east-1",
            "--format",
            "csv",
            "select segment, customer_count from v_customer_segments",
        ],
    )
    assert result.exit_code == 0, result.output
    got = pd.read_csv(io.StringIO(result.stdout))
    assert got.to_dict("list") == {"segment": ["Champions", "Lost"], "customer_count": [32, 22]}
    assert "scanned 0 B (0 bytes)" in result.output
    assert "cost $0.000048 at $5/TB" in result.output  # the 10 MB minimum


def test_aws_reads_workgroup_and_database_from_the_stack(moto_athena: None) -> None:
    import boto3

    template = {
        "Resources": {"Lake": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {
            "AthenaWorkGroupName": {"Value": "medallion-dev-analysts"},
            "GoldDatabaseName": {"Value": "medallion_dev_gold"},
        },
    }
    boto3.client("cloudformation").create_stack(
        StackName="medallion-dev", TemplateBody=json.dumps(template)
    )
    seed_athena_results([["n"], ["7"]], ["bigint"])
    result = runner.invoke(
        app,
        ["query", "--aws", "--env", "dev", "--region", "us-east-1", "--format", "json",
         "select count(*) as n from v_run_ledger"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"n": 7}]
    from moto.athena.models import athena_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    [execution] = athena_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].executions.values()
    assert execution.workgroup is not None and execution.workgroup.name == "medallion-dev-analysts"
    assert execution.context == {"Database": "medallion_dev_gold"}


def test_aws_with_an_unknown_environment_is_one_line(moto_athena: None) -> None:
    result = runner.invoke(
        app, ["query", "--aws", "--env", "nope", "--region", "us-east-1", "select 1"]
    )
    assert result.exit_code == 3
    assert "cannot read the stack of environment 'nope'" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_aws_needs_a_workgroup() -> None:
    result = runner.invoke(
        app, ["query", "--aws", "select 1"], env={"MEDALLION_WORKGROUP": "", "MEDALLION_ENV": ""}
    )
    assert result.exit_code == 2
    assert "--workgroup" in result.output


def test_aws_unknown_workgroup_is_one_line(moto_athena: None) -> None:
    result = runner.invoke(
        app, ["query", "--aws", "--workgroup", "nope", "--region", "us-east-1", "select 1"]
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: line 1:1: ")
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_piped_table_keeps_every_name_whole(empty_lake: Path) -> None:
    names = [f"customers_dataset_column_{i}" for i in range(6)]  # far wider than 80 columns
    sql = "select " + ", ".join(f"'{name}_value' as {name}" for name in names)
    result = query(empty_lake, sql)
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    for name in names:
        assert name in result.stdout and f"{name}_value" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) > 80


def test_sql_comes_from_a_file_or_stdin(empty_lake: Path, tmp_path: Path) -> None:
    # a view file of sql/ starts with a -- comment, which as an argument reads as an option
    sql_file = tmp_path / "q.sql"
    sql_file.write_text("-- how many\nselect 41 + 1 as answer\n")
    from_file = query(empty_lake, "--format", "csv", "--file", str(sql_file))
    assert from_file.exit_code == 0, from_file.output
    assert from_file.stdout.splitlines() == ["answer", "42"]
    from_stdin = runner.invoke(
        app,
        ["query", "--lake", str(empty_lake), "--format", "csv", "-f", "-"],
        input="select 7 as n",
    )
    assert from_stdin.exit_code == 0, from_stdin.output
    assert from_stdin.stdout.splitlines()[1:] == ["7"]
    for args, said in (
        ([], "no SQL"),
        (["-f", str(sql_file), "select 1"], "not both"),
        (["-f", str(tmp_path / "absent.sql")], "cannot read --file"),
    ):
        refused = query(empty_lake, *args)
        assert refused.exit_code == 2 and said in refused.output, refused.output


# columns that hold an amount of money, by the names the marts and views give them
MONEY = re.compile(r"(revenue|monetary|value|price|amount|spend)(?!.*(share|rate|ratio))")


@slow
def test_money_in_every_view_is_exact_to_the_cent(lake: Path) -> None:
    """Each view of sql/ through the user's command (`query --file`): every money column is a
    decimal and prints with at most two decimals (a double average printed 531.6800000000001)."""
    views = sorted((REPO / "sql").glob("v_*.sql"))
    assert views
    checked = 0
    for view in views:
        result = query(lake, "--format", "csv", "--file", str(view))
        assert result.exit_code == 0, f"{view.name}: {result.output}"
        frame = pd.read_csv(io.StringIO(result.stdout), dtype=str)
        for column in (c for c in frame.columns if MONEY.search(c)):
            values = frame[column].dropna()
            noisy = values[~values.str.fullmatch(r"-?\d+(\.\d{1,2})?")]
            assert noisy.empty, f"{view.name}.{column}: {noisy.head(3).tolist()}"
            checked += len(values)
    assert checked > 100
    # and the average is the mean of the segment's customers to the cent (DuckDB averages in
    # double, so a mean ending in a half cent may round either way)
    result = query(lake, "--format", "csv", "--file", str(REPO / "sql" / "v_customer_segments.sql"))
    got = pd.read_csv(io.StringIO(result.stdout), dtype={"avg_monetary": str})
    customers = rfm(lake)
    for row in got.itertuples():
        amounts = [Decimal(str(m)) for m in customers[customers.segment == row.segment].monetary]
        mean = sum(amounts, Decimal(0)) / len(amounts)
        assert abs(Decimal(row.avg_monetary) - mean) <= Decimal("0.005"), row.segment
