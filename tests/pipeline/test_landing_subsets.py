"""What a new user does: drop some of the five datasets in landing and type `medallion run`.

Each case runs the installed command in a process of its own, through the state machine (bronze,
silver, gold, crawlers, views), then asks every view of ``sql/`` through `medallion query`, the
way an analyst would. Any subset of the datasets must end SUCCEEDED with every view answering.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from smtp_support import SmtpServer

from medallion.sample.generate import generate
from medallion.spec.views import view_files

pytestmark = pytest.mark.slow

MEDALLION = str(Path(sys.executable).with_name("medallion"))
# The public UCI Online Retail file, as its CSV exports have it: this header, Latin-1, CRLF.
UCI_HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]


def medallion(
    *args: str, cwd: Path, path: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MEDALLION, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        # Wide enough that rich does not fold the lines the assertions read.
        env={**os.environ, "COLUMNS": "200", "PATH": path or os.environ["PATH"], **(env or {})},
    )


def another_python_first(root: Path) -> str:
    """A PATH whose first ``python3`` and ``python`` are not this Python (a user's system
    Python of another version, say): each refuses to run and leaves a note that it was asked."""
    folder = root / "other-python"
    folder.mkdir()
    for name in ("python3", "python"):
        shim = folder / name
        shim.write_text(f'#!/bin/sh\necho "$0 $*" >> {folder / "asked"}\nexit 3\n')
        shim.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    generate(out, 600, 7)
    return out


CELL_WITH_A_BREAK = "PAPER CHAIN KIT\nVINTAGE CHRISTMAS"


def as_uci_export(source: Path, target: Path) -> int:
    """The generated order lines as the public file is shaped: Latin-1, CRLF, accents.

    Returns the number of records.
    """
    with source.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == UCI_HEADER
    body = rows[1:]
    # Descriptions with characters Latin-1 has and UTF-8 encodes differently.
    for index in range(0, len(body), 50):
        body[index][2] = "CRÈME BRÛLÉE SET"
    # A cell with a line break in it (Alt+Enter in Excel): its field is quoted over two lines.
    body[3][2] = CELL_WITH_A_BREAK
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows([UCI_HEADER, *body])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(out.getvalue().encode("latin-1"))
    return len(body)


def landing_with(generated: Path, root: Path, datasets: tuple[str, ...]) -> Path:
    landing = root / "landing"
    landing.mkdir(parents=True)
    for dataset in datasets:
        shutil.copytree(generated / dataset, landing / dataset)
    return landing


def views_answer(lake: Path, cwd: Path) -> dict[str, int]:
    """Every view's row count, asked through `medallion query` in one statement."""
    names = [path.stem for path in view_files()]
    sql = " UNION ALL ".join(f"SELECT '{n}' AS view_name, count(*) AS n FROM {n}" for n in names)
    done = medallion("query", sql, "--lake", str(lake), "--format", "json", cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return {row["view_name"]: int(row["n"]) for row in json.loads(done.stdout)}


def run(
    landing: Path,
    lake: Path,
    cwd: Path,
    path: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    args = ("run", "--landing", str(landing), "--lake", str(lake))
    done = medallion(*args, cwd=cwd, path=path, env=env)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Run succeeded" in done.stdout
    return done


def test_only_the_public_order_lines_file_gives_a_successful_run_and_every_view(
    generated: Path, tmp_path: Path, smtp_inbox: SmtpServer
) -> None:
    landing = tmp_path / "landing"
    name = "Online Retail (export) + 2011 é%20.csv"
    lines = as_uci_export(
        generated / "order_lines" / "order_lines.csv", landing / "order_lines" / name
    )
    lake = tmp_path / "lake"
    # The user's PATH finds another Python first: the run uses its own interpreter throughout.
    path = another_python_first(tmp_path)
    # Links to nothing, in the landing and in the folder the command is typed in (a browser's
    # stale lock, say): neither is data, and neither stops the run.
    (landing / "order_lines" / "moved away.csv").symlink_to(tmp_path / "nowhere.csv")
    # The workbook the data set is published as, dropped in beside its CSV copy: not text.
    workbook = landing / "order_lines" / "Online Retail.xlsx"
    with zipfile.ZipFile(workbook, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "SingletonCookie").symlink_to(tmp_path / "nowhere")
    inbox = smtp_inbox.inbox
    done = run(landing, lake, tmp_path, path=path, env=smtp_inbox.env)
    assert "inventory_health is empty: needs inventory" in done.stdout
    said = " ".join(done.stdout.split())
    assert f"bronze: file:{workbook} not read: not text: a spreadsheet workbook (.xlsx)" in said
    assert (
        f"{name}: 1 record(s) whose quoted field holds a line break, each read as one row" in said
    )
    assert not (tmp_path / "other-python" / "asked").exists()
    # The run succeeded, and the on-call person is told which file is not in the lake, and why.
    [email] = inbox.messages
    assert email["Subject"] == "[medallion] local run SUCCEEDED: 1 landing file not read"
    body = email.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert f"order_lines: file:{workbook}\n  not text: a spreadsheet workbook (.xlsx)" in body

    counts = views_answer(lake, tmp_path)
    assert set(counts) == {path.stem for path in view_files()}
    assert counts["v_inventory_alerts"] == 0
    assert counts["v_monthly_revenue"] > 0 and counts["v_customer_segments"] > 0
    # The manifest records the file under its real name, with every data line counted.
    entries = [
        json.loads(line)
        for path in (lake / "_meta" / "ingested" / "order_lines").glob("*.json")
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    [entry] = [e for e in entries if e["status"] != "refused_not_text"]
    assert [e["path"] for e in entries if e["status"] == "refused_not_text"] == [f"file:{workbook}"]
    assert entry["path"].endswith("/order_lines/" + name)
    assert (entry["rows"], entry["status"], entry["encoding"]) == (lines, "ingested", "ISO-8859-1")
    broken = duckdb.sql(
        f"select _ingest_line, Description from read_parquet('{lake}/bronze/order_lines/**/*"
        ".parquet') where Description like '%' || chr(10) || '%'"
    ).fetchall()
    assert broken == [(5, CELL_WITH_A_BREAK)]  # the header, then three lines before it
    # A missing optional input gives the documented null or zero (docs/gold.md).
    products = duckdb.sql(
        f"select * from read_parquet('{lake}/gold/product_monthly/*/*.parquet')"
    ).df()
    assert len(products) > 0
    assert products["category"].isna().all() and (products["review_count"] == 0).all()
    described = medallion(
        "query",
        "SELECT count(*) AS n FROM silver.order_lines WHERE description = 'CRÈME BRÛLÉE SET'",
        "--lake",
        str(lake),
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert json.loads(described.stdout)[0]["n"] > 0, described.stdout + described.stderr


def test_all_five_datasets_give_every_view_and_no_empty_mart(pipeline_lake: Path) -> None:
    # The session's lake is a `medallion run` of all five generated datasets (tests/conftest.py).
    counts = views_answer(pipeline_lake, pipeline_lake.parent)
    assert set(counts) == {path.stem for path in view_files()}
    assert all(n > 0 for n in counts.values()), counts
    marts = {p.name for p in (pipeline_lake / "gold").iterdir() if p.is_dir()}
    for mart in marts:
        # a mart that grows with time is partitioned by month (gold/<mart>/year_month=.../)
        found = duckdb.sql(f"select count(*) from '{pipeline_lake}/gold/{mart}/**/*.parquet'")
        assert found.fetchone()[0] > 0, mart


@pytest.mark.parametrize(
    "datasets",
    [("order_lines", "products"), ()],
    ids=["order_lines+products", "nothing"],
)
def test_a_subset_of_the_datasets_gives_a_successful_run_and_every_view(
    generated: Path, tmp_path: Path, datasets: tuple[str, ...], smtp_inbox: SmtpServer
) -> None:
    landing = landing_with(generated, tmp_path, datasets)
    lake = tmp_path / "lake"
    inbox = smtp_inbox.inbox
    done = run(landing, lake, tmp_path, env=smtp_inbox.env)
    assert inbox.messages == []  # every file read: nothing to tell the on-call person
    counts = views_answer(lake, tmp_path)
    assert set(counts) == {path.stem for path in view_files()}
    if "order_lines" in datasets:
        assert "inventory_health is empty: needs inventory" in done.stdout
        assert "no landing files for customers" in done.stdout
        assert counts["v_top_products"] > 0
        assert counts["v_quality_latest"] > 0
    else:
        assert all(n == 0 for n in counts.values()), counts
        assert "sales_daily is empty: needs order_lines" in done.stdout


def iso(uci_time: str) -> str:
    """12/1/2010 8:26 as 2010-12-01 08:26:00."""
    return datetime.strptime(uci_time, "%m/%d/%Y %H:%M").isoformat(" ")


def test_the_online_retail_ii_layout_loads_as_the_first_data_set(tmp_path: Path) -> None:
    # "Online Retail II" as its CSV copies have it: Invoice, Price and Customer ID for three
    # of the columns (the contract's aliases), ISO times, customer ids written 13085.0.
    generate(tmp_path / "generated", 600, 11, defects=False)
    source = tmp_path / "generated" / "order_lines" / "order_lines.csv"
    with source.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == UCI_HEADER
    header = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price"]
    body = [
        [*row[:4], iso(row[4]), row[5], f"{row[6]}.0" if row[6] else "", row[7]] for row in rows[1:]
    ]
    landing = tmp_path / "landing" / "order_lines"
    landing.mkdir(parents=True)
    with (landing / "online_retail_II.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([[*header, "Customer ID", "Country"], *body])
    lake = tmp_path / "lake"
    run(landing.parent, lake, tmp_path)

    # Every line in silver with its values, figured from the file itself.
    revenue = sum(Decimal(line[3]) * Decimal(line[5]) for line in body)
    customers = {int(float(line[6])) for line in body if line[6]}
    sql = (
        "SELECT count(*) AS n, CAST(sum(line_amount) AS VARCHAR) AS revenue, "
        "count(DISTINCT customer_id) AS customers, count(customer_id) AS with_customer "
        "FROM silver.order_lines"
    )
    done = medallion("query", sql, "--lake", str(lake), "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    [silver] = json.loads(done.stdout)
    assert silver["n"] == len(body)
    assert Decimal(silver["revenue"]) == revenue
    assert silver["customers"] == len(customers)
    assert silver["with_customer"] == sum(1 for line in body if line[6])
    # The aliases are the contract's columns, not drift.
    drift = medallion(
        "query",
        "SELECT status, message FROM v_quality_latest WHERE rule_id = 'order_lines_schema_drift'",
        "--lake",
        str(lake),
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert json.loads(drift.stdout) == [
        {"status": "pass", "message": "all 1 files have the contract's columns"}
    ], drift.stdout + drift.stderr
