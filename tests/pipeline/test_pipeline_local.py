"""The whole data path on generated data: the bronze, silver and gold jobs as Glue runs them."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from medallion.local.jobrunner import JobResult
from medallion.sample.generate import Manifest, generate

pytestmark = pytest.mark.slow
ORDER_LINES = 1500
SEED = 7
SILVER = ("order_lines", "customers", "products", "inventory", "reviews")
GOLD = (
    "sales_daily",
    "product_monthly",
    "inventory_health",
    "customer_rfm",
    "customer_lifetime",
    "cohort_retention",
)


JobRunner = Callable[..., JobResult]


def run_pipeline(runner: JobRunner, lake: Path, landing: Path, run_id: str) -> dict[str, dict]:
    summaries = {}
    for layer in ("bronze", "silver", "gold"):
        options = {"lake_root": str(lake), "run_id": run_id}
        if layer == "bronze":
            options["landing_root"] = str(landing)
        result = runner(layer, options)
        assert result.state == "SUCCEEDED", f"{layer}: {result.error_message}"
        summaries[layer] = result.summary
    return summaries


def parquet_rows(path: Path, order: bool = True) -> pd.DataFrame:
    """Every row under a Parquet directory, hive partitions included, in a stable order."""
    if not any(path.rglob("*.parquet")):
        return pd.DataFrame()
    frame = duckdb.sql(
        f"select * from read_parquet('{path}/**/*.parquet', hive_partitioning = true, "
        "union_by_name = true)"
    ).df()
    frame = frame.drop(columns=[c for c in ("quarantined_at", "silver_run_id") if c in frame])
    if order:
        frame = frame.astype(str).sort_values(list(frame.columns)).reset_index(drop=True)
    return frame


def snapshot(lake: Path) -> dict[str, pd.DataFrame]:
    out = {f"silver/{d}": parquet_rows(lake / "silver" / d) for d in SILVER}
    out |= {f"gold/{m}": parquet_rows(lake / "gold" / m) for m in GOLD}
    out |= {f"quarantine/{d}": parquet_rows(lake / "quarantine" / d) for d in SILVER}
    return out


def partition_files(lake: Path, dataset: str) -> dict[str, tuple[str, ...]]:
    base = lake / "silver" / dataset
    return {
        str(day.relative_to(base)): tuple(sorted(p.name for p in day.glob("*.parquet")))
        for day in base.glob("year=*/month=*/day=*")
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, job_runner: JobRunner) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("pipeline")
    landing, lake = root / "landing", root / "lake"
    manifest = generate(landing, ORDER_LINES, SEED)
    summaries = run_pipeline(job_runner, lake, landing, "run-1")
    yield {
        "landing": landing, "lake": lake, "manifest": manifest, "first": summaries,
        "runner": job_runner,
    }  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def lake(workspace: dict) -> Path:
    return workspace["lake"]


@pytest.fixture(scope="module")
def manifest(workspace: dict) -> Manifest:
    return workspace["manifest"]


def test_every_landing_line_is_one_bronze_row(lake: Path, manifest: Manifest) -> None:
    for dataset, info in manifest.files.items():
        bronze = parquet_rows(lake / "bronze" / dataset, order=False)
        first_line = 2 if info.path.endswith(".csv") else 1
        lines = sorted(bronze["_ingest_line"].tolist())
        assert lines == list(range(first_line, first_line + info.lines)), dataset
        assert bronze["_ingest_file"].str.endswith(info.path).all()


def test_conservation_matches_the_generator_manifest(lake: Path, manifest: Manifest) -> None:
    for dataset in SILVER:
        records = [
            json.loads(line)
            for path in (lake / "quality" / "runs" / f"dataset={dataset}").glob("*/summary*.json")
            for line in path.read_text().splitlines()
        ]
        assert len(records) == 1, dataset
        summary, expected = records[0], manifest.expected[dataset]
        assert summary["rows_in"] == expected.rows_in, dataset
        assert summary["rows_quarantined"] == expected.quarantined, dataset
        assert summary["rows_duplicate"] == expected.duplicates, dataset
        assert summary["rows_silver"] == expected.rows_silver, dataset
        assert (
            summary["rows_in"]
            == summary["rows_silver"] + summary["rows_quarantined"] + summary["rows_duplicate"]
        )
        silver = parquet_rows(lake / "silver" / dataset, order=False)
        quarantine = parquet_rows(lake / "quarantine" / dataset, order=False)
        assert len(silver) == expected.rows_silver, dataset
        assert len(quarantine) == expected.quarantined, dataset


EXPECTED_RULE = {
    ("order_lines", "unparseable_date"): "order_lines_invoiced_at_parseable",
    ("order_lines", "too_many_fields"): "order_lines_well_formed",
    ("order_lines", "too_few_fields"): "order_lines_well_formed",
    ("order_lines", "negative_unit_price"): "order_lines_unit_price_non_negative",
    ("customers", "empty_customer_id"): "customers_customer_id_not_null",
    ("inventory", "unparseable_on_hand"): "inventory_on_hand_parseable",
    ("reviews", "rating_out_of_range"): "reviews_rating_range",
    ("reviews", "malformed_json"): "reviews_well_formed",
}


def test_every_quarantined_row_names_its_rule(lake: Path, manifest: Manifest) -> None:
    for dataset in SILVER:
        quarantine = parquet_rows(lake / "quarantine" / dataset, order=False)
        if manifest.expected[dataset].quarantined == 0:
            assert quarantine.empty
            continue
        for rules, reasons in zip(
            quarantine["dq_failed_rules"], quarantine["dq_reasons"], strict=True
        ):
            assert len(rules) >= 1 and len(reasons) == len(rules)
            assert all(reason.startswith(rule) for rule, reason in zip(rules, reasons, strict=True))
        by_line = dict(zip(quarantine["_ingest_line"], quarantine["dq_failed_rules"], strict=True))
        for (ds, defect), rule in EXPECTED_RULE.items():
            if ds != dataset:
                continue
            for line in manifest.defect_lines[dataset][defect]:
                assert rule in by_line[line], (dataset, defect, line, by_line.get(line))


def test_unknown_products_are_kept_and_flagged(lake: Path, manifest: Manifest) -> None:
    silver = parquet_rows(lake / "silver" / "order_lines", order=False)
    flagged = silver[silver["dq_warnings"].map(lambda w: "order_lines_stock_code_known" in w)]
    assert len(flagged) == manifest.expected["order_lines"].flagged_unknown_product


def _landing_pii(landing: Path) -> set[str]:
    with (landing / "customers" / "customers.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {row[c] for row in rows for c in ("Name", "Email", "Phone") if row.get(c)}


def test_no_pii_in_clear_under_silver_gold_or_quarantine(workspace: dict) -> None:
    lake, pii = workspace["lake"], _landing_pii(workspace["landing"])
    assert len(pii) > 50
    for layer in ("silver", "gold", "quarantine"):
        for directory in sorted({p.parent for p in (lake / layer).rglob("*.parquet")}):
            frame = duckdb.sql(f"select * from read_parquet('{directory}/*.parquet')").df()
            for column in frame.columns:
                values = {str(v) for v in frame[column].dropna().tolist()}
                leaked = values & pii
                assert not leaked, f"{directory}: {column} holds PII such as {sorted(leaked)[:2]}"
    customers = parquet_rows(lake / "silver" / "customers", order=False)
    assert customers["email"].str.fullmatch(r"[0-9a-f]{64}").all()


def test_silver_leaves_no_working_copy_behind(lake: Path) -> None:
    # Silver checks each batch into a copy under _staging/ and deletes it when it is done.
    assert (lake / "silver" / "order_lines").is_dir()
    assert not [p for p in (lake / "_staging").rglob("*") if p.is_file()]


def test_gold_sales_daily_matches_an_independent_computation(lake: Path) -> None:
    expected = duckdb.sql(
        f"""
        select cast(invoiced_at as date) as sales_date, country,
               count(distinct invoice_no) filter (where not is_cancellation) as orders,
               coalesce(sum(quantity) filter (where not is_cancellation), 0) as units,
               round(coalesce(sum(line_amount) filter (where not is_cancellation), 0), 2) as gross,
               round(coalesce(sum(abs(line_amount)) filter (where is_cancellation), 0), 2)
                   as cancelled
        from read_parquet('{lake}/silver/order_lines/**/*.parquet', hive_partitioning = true)
        group by all order by all
        """
    ).df()
    actual = duckdb.sql(
        f"""
        select sales_date, country, orders, units, gross_revenue as gross,
               cancelled_value as cancelled, net_revenue
        from read_parquet('{lake}/gold/sales_daily/**/*.parquet') order by sales_date, country
        """
    ).df()
    assert len(actual) == len(expected) > 100
    for column in ("orders", "units"):
        assert actual[column].astype(int).tolist() == expected[column].astype(int).tolist()
    for column in ("gross", "cancelled"):
        assert (
            actual[column].astype(float).round(2).tolist()
            == expected[column].astype(float).tolist()
        )
    net = (actual["gross"].astype(float) - actual["cancelled"].astype(float)).round(2)
    assert net.tolist() == actual["net_revenue"].astype(float).tolist()


def test_gold_customer_lifetime_matches_the_lifetimes_package(lake: Path) -> None:
    from lifetimes.utils import summary_data_from_transaction_data

    lines = duckdb.sql(
        f"""
        select customer_id, cast(invoiced_at as date) as date, cast(line_amount as double) as amount
        from read_parquet('{lake}/silver/order_lines/**/*.parquet', hive_partitioning = true)
        where customer_id is not null and not is_cancellation
        """
    ).df()
    gold = (
        duckdb.sql(f"select * from read_parquet('{lake}/gold/customer_lifetime/**/*.parquet')")
        .df()
        .set_index("customer_id")
        .sort_index()
    )
    end = pd.Timestamp(gold["observation_end"].iloc[0])
    lines["date"] = pd.to_datetime(lines["date"])
    expected = summary_data_from_transaction_data(
        lines, "customer_id", "date", monetary_value_col="amount",
        observation_period_end=end, freq="D",
    ).sort_index()  # fmt: skip
    assert gold.index.tolist() == expected.index.tolist()
    for column in ("frequency", "recency", "T"):
        assert gold[column].astype(float).tolist() == expected[column].astype(float).tolist()
    assert (
        gold["monetary_value"].astype(float).round(9).tolist()
        == expected["monetary_value"].astype(float).round(9).tolist()
    )


@pytest.fixture(scope="module")
def rerun(workspace: dict) -> dict:
    """A second run over the same landing files, with what the lake held before it."""
    lake = workspace["lake"]
    before = snapshot(lake)
    bronze_before = {d: len(parquet_rows(lake / "bronze" / d, order=False)) for d in SILVER}
    summaries = run_pipeline(workspace["runner"], lake, workspace["landing"], "run-2")
    return {"before": before, "bronze_before": bronze_before, "summaries": summaries}


def test_a_second_run_on_the_same_files_changes_no_rows(workspace: dict, rerun: dict) -> None:
    lake = workspace["lake"]
    bronze = rerun["summaries"]["bronze"]["datasets"]
    assert all(d["files_new"] == 0 for d in bronze.values())
    for dataset, count in rerun["bronze_before"].items():
        assert len(parquet_rows(lake / "bronze" / dataset, order=False)) == count
    after = snapshot(lake)
    for name, frame in rerun["before"].items():
        pd.testing.assert_frame_equal(after[name], frame, obj=name)


def _new_order_file(landing: Path, target: Path) -> tuple[set[str], int]:
    """A second order_lines file: 3 new lines on two days, and 1 exact copy of an old line."""
    with (landing / "order_lines" / "order_lines.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, data = rows[0], rows[1:]
    clean = [r for r in data if len(r) == 8 and r[0].isdigit() and r[6] and r[4].count("/") == 2]
    new = []
    for i, source in enumerate(clean[:3]):
        row = list(source)
        row[0] = f"{990000 + i}"
        new.append(row)
    days = {r[4].split(" ")[0] for r in new}
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *new, clean[10]])
    return days, len(new)


def test_a_new_file_is_ingested_once_and_rewrites_only_its_partitions(
    workspace: dict, rerun: dict
) -> None:
    lake, landing = workspace["lake"], workspace["landing"]
    before = partition_files(lake, "order_lines")
    days, added = _new_order_file(landing, landing / "order_lines" / "2011-late.csv")
    summaries = run_pipeline(workspace["runner"], lake, landing, "run-3")
    assert summaries["bronze"]["datasets"]["order_lines"]["files_new"] == 1
    assert summaries["bronze"]["datasets"]["order_lines"]["rows"] == added + 1
    ledger = summaries["silver"]["datasets"]["order_lines"]
    assert (ledger["rows_in"], ledger["rows_silver"], ledger["rows_duplicate"]) == (4, 3, 1)
    after = partition_files(lake, "order_lines")
    touched = {k for k in after if before.get(k) != after[k]}
    expected_days = set()
    for day in days:
        month, dom, year = (int(x) for x in day.split("/"))
        expected_days.add(f"year={year}/month={month}/day={dom}")
    assert touched == expected_days
    again = run_pipeline(workspace["runner"], lake, landing, "run-4")
    assert again["bronze"]["datasets"]["order_lines"]["files_new"] == 0
    assert partition_files(lake, "order_lines") == after


def test_a_file_that_only_resends_lines_silver_has_rewrites_no_partition(
    workspace: dict, rerun: dict
) -> None:
    """Lines sent again in a new file are duplicates: silver keeps its partitions and files as
    they were (so gold has nothing to recompute) and says so in its ledger."""
    lake, landing = workspace["lake"], workspace["landing"]
    with (landing / "order_lines" / "order_lines.csv").open(encoding="utf-8") as handle:
        header, *data = list(csv.reader(handle))
    clean = [r for r in data if len(r) == 8 and r[0].isdigit() and r[6] and r[4].count("/") == 2]
    copies = clean[100:104]
    days = {r[4].split(" ")[0] for r in copies}
    assert len(days) > 1  # the copies span several date partitions
    target = landing / "order_lines" / "resent lines.csv"
    with target.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *copies])
    before = partition_files(lake, "order_lines")
    silver_before = parquet_rows(lake / "silver" / "order_lines")

    summaries = run_pipeline(workspace["runner"], lake, landing, "run-resent")

    assert summaries["bronze"]["datasets"]["order_lines"]["rows"] == len(copies)
    ledger = summaries["silver"]["datasets"]["order_lines"]
    assert (ledger["rows_in"], ledger["rows_silver"], ledger["rows_duplicate"]) == (4, 0, 4)
    assert ledger["partitions_written"] == []
    assert partition_files(lake, "order_lines") == before
    pd.testing.assert_frame_equal(parquet_rows(lake / "silver" / "order_lines"), silver_before)
    assert not any((lake / "_staging").rglob("*.parquet"))
