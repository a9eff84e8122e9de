"""Tests of the sample data generator: layouts, determinism and defect counts re-read from files."""

from __future__ import annotations

import csv
import functools
import json
import re
from collections import Counter
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from medallion.cli import app
from medallion.sample.generate import MANIFEST_NAME, Manifest, Plan, generate

REPO = Path(__file__).resolve().parents[3]
N = 40_000
SEED = 7


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("sample")
    return out, generate(out, N, SEED)


def contract(dataset: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "contracts" / f"{dataset}.yaml").read_text("utf-8"))


@functools.cache
def non_product_codes() -> tuple[frozenset[str], str]:
    """The codes and prefix the order_lines contract's is_product expression excludes."""
    expression = next(
        d["expression"] for d in contract("order_lines")["derived"] if d["name"] == "is_product"
    )
    listed, like = expression.split(" LIKE ")
    return frozenset(re.findall(r"'([^']+)'", listed)), re.findall(r"'([^'\\]+)", like)[0]


def is_product(code: str) -> bool:
    codes, prefix = non_product_codes()
    return not (code.upper() in codes or code.upper().startswith(prefix))


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def data_lines(path: Path, header: bool = True) -> list[str]:
    lines = path.read_text("utf-8").split("\n")
    assert lines[-1] == "", "a file ends with one line feed"
    return lines[1 if header else 0 : -1]


def dataset_path(root: Path, manifest: Manifest, dataset: str) -> Path:
    return root / manifest.files[dataset].path


def parse_money(value: str) -> Decimal | None:
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def parse_int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def parse_invoice_date(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%m/%d/%Y %H:%M")
    except ValueError:
        return None


def classify_order_line(row: list[str], products: set[str]) -> str | None:
    """The defect a line carries, judged from its text alone (None when clean)."""
    if len(row) > 8:
        return "too_many_fields"
    if len(row) < 8:
        return "too_few_fields"
    if parse_int(row[3]) is None or parse_money(row[5]) is None:
        return "unparseable_number"
    if parse_invoice_date(row[4]) is None:
        return "unparseable_date"
    if parse_money(row[5]) < 0:  # type: ignore[operator]
        return "negative_unit_price"
    if is_product(row[1]) and row[1] not in products:
        return "unknown_product"
    return None


def clean_order_rows(root: Path, manifest: Manifest) -> list[list[str]]:
    _, products = read_csv(dataset_path(root, manifest, "products"))
    codes = {p[0] for p in products}
    _, rows = read_csv(dataset_path(root, manifest, "order_lines"))
    return [r for r in rows if classify_order_line(r, codes) is None]


# --- determinism and layout --------------------------------------------------------------------


def file_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_gives_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first, again, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(first, 1000, 42)
    generate(again, 1000, 42)
    generate(other, 1000, 43)
    assert file_bytes(first) == file_bytes(again)
    assert len(file_bytes(first)) == 6
    changed = file_bytes(other)
    assert all(
        changed[name] != content
        for name, content in file_bytes(first).items()
        if name != MANIFEST_NAME
    )


def test_landing_layout_and_headers_follow_the_contracts(sample: tuple[Path, Manifest]) -> None:
    root, manifest = sample
    expected_paths = {
        "order_lines": "order_lines/order_lines.csv",
        "customers": "customers/customers.csv",
        "products": "products/products.csv",
        "inventory": "inventory/inventory.csv",
        "reviews": "reviews/reviews.jsonl",
    }
    assert {k: v.path for k, v in manifest.files.items()} == expected_paths
    for dataset, path in expected_paths.items():
        raw = (root / path).read_bytes()
        assert b"\r" not in raw
        assert manifest.files[dataset].bytes == len(raw)
        is_csv = path.endswith(".csv")
        assert manifest.files[dataset].lines == len(data_lines(root / path, header=is_csv))
        if is_csv:
            header, _ = read_csv(root / path)
            assert header == [c["source"] for c in contract(dataset)["columns"]]


def test_manifest_reads_back_and_balances(sample: tuple[Path, Manifest]) -> None:
    root, manifest = sample
    assert Manifest.read(root) == manifest
    assert manifest.seed == SEED
    assert manifest.order_lines_requested == N
    assert manifest.files["order_lines"].lines == N
    for dataset, e in manifest.expected.items():
        assert e.rows_in == manifest.files[dataset].lines
        assert e.rows_in == e.rows_silver + e.quarantined + e.duplicates
        assert all(v >= 1 for v in manifest.injected[dataset].values()), dataset
        for defect, lines in manifest.defect_lines[dataset].items():
            assert len(lines) == len(set(lines)) == manifest.injected[dataset][defect]


# --- order lines --------------------------------------------------------------------------------


def test_order_line_defects_match_the_manifest(sample: tuple[Path, Manifest]) -> None:
    root, manifest = sample
    _, products = read_csv(dataset_path(root, manifest, "products"))
    codes = {p[0] for p in products}
    path = dataset_path(root, manifest, "order_lines")
    _, rows = read_csv(path)
    found: dict[str, list[int]] = {}
    for number, row in enumerate(rows, start=2):
        defect = classify_order_line(row, codes)
        if defect:
            found.setdefault(defect, []).append(number)
    copies = Counter(data_lines(path))
    found["exact_duplicate"] = []
    seen: set[str] = set()
    for number, line in enumerate(data_lines(path), start=2):
        if line in seen:
            found["exact_duplicate"].append(number)
        seen.add(line)
    assert sum(c - 1 for c in copies.values()) == len(found["exact_duplicate"])

    injected = manifest.injected["order_lines"]
    assert {k: len(v) for k, v in found.items()} == injected
    assert found == manifest.defect_lines["order_lines"]
    expected = manifest.expected["order_lines"]
    assert expected.duplicates == injected["exact_duplicate"]
    assert expected.flagged_unknown_product == injected["unknown_product"]
    assert expected.quarantined == sum(
        len(v) for k, v in found.items() if k not in ("exact_duplicate", "unknown_product")
    )


def test_duplicates_copy_clean_lines(sample: tuple[Path, Manifest]) -> None:
    root, manifest = sample
    path = dataset_path(root, manifest, "order_lines")
    lines = data_lines(path)
    clean = {",".join(r) for r in clean_order_rows(root, manifest)}
    copied = [lines[n - 2] for n in manifest.defect_lines["order_lines"]["exact_duplicate"]]
    # Copies of lines with commas in a quoted description do not rejoin; compare parsed rows.
    assert all(",".join(next(csv.reader([line]))) in clean for line in copied)


def test_clean_order_lines_pass_every_contract_rule(sample: tuple[Path, Manifest]) -> None:
    root, manifest = sample
    rows = clean_order_rows(root, manifest)
    invoice_no = re.compile(r"^C?[0-9]{6}$")
    unpadded = re.compile(r"^[1-9]\d?/[1-9]\d?/\d{4} (?:[1-9]?\d):\d\d$")
    keys = Counter((r[0], r[1], r[4]) for r in rows)
    assert max(keys.values()) == 2  # only the injected exact copies share a key
    assert sum(c - 1 for c in keys.values()) == manifest.injected["order_lines"]["exact_duplicate"]
    for invoice, code, description, quantity, when, price, customer, country in rows:
        assert invoice_no.match(invoice)
        assert code and description
        qty = int(quantity)
        assert qty != 0
        assert invoice.startswith("C") == (qty < 0)
        assert Decimal(price) >= 0 and re.fullmatch(r"\d+\.\d\d", price)
        assert unpadded.match(when)
        assert date(2010, 12, 1) <= parse_invoice_date(when).date() <= date(2011, 12, 9)  # type: ignore[union-attr]
        assert customer == "" or re.fullmatch(r"[1-9]\d{4,}", customer)
        assert 2 <= len(country) <= 60


def test_order_lines_look_like_the_uci_data(sample: tuple[Path, Manifest]) -> None:
    root, manifest = sample
    rows = clean_order_rows(root, manifest)
    guests = sum(1 for r in rows if r[6] == "") / len(rows)
    assert guests == pytest.approx(0.25, abs=0.02)
    countries = Counter(r[7] for r in rows)
    assert len(countries) == 38
    assert countries["United Kingdom"] / len(rows) > 0.8
    months = Counter(parse_invoice_date(r[4]).strftime("%Y-%m") for r in rows)  # type: ignore[union-attr]
    assert months.most_common(1)[0][0] == "2011-11"
    assert not any(parse_invoice_date(r[4]).weekday() == 5 for r in rows)  # type: ignore[union-attr]
    codes = Counter(r[1] for r in rows)
    assert {"POST", "M", "D", "DOT"} <= set(codes)
    assert any(Decimal(r[5]) == 0 for r in rows)
    product_lines = sorted((c for code, c in codes.items() if is_product(code)), reverse=True)
    assert product_lines[0] > 5 * product_lines[len(product_lines) // 2]  # a long tail
    invoices = Counter(r[0] for r in rows)
    assert sum(invoices.values()) / len(invoices) > 5
    cancelled = [r for r in rows if r[0].startswith("C")]
    assert cancelled and all(int(r[3]) < 0 for r in cancelled)
    buyers = Counter(r[6] for r in rows if r[6])
    assert buyers.most_common(1)[0][1] > 20 * sorted(buyers.values())[len(buyers) // 2]


# --- customers and products ---------------------------------------------------------------------


def test_customers_cover_orders_and_carry_the_injected_defects(
    sample: tuple[Path, Manifest],
) -> None:
    root, manifest = sample
    _, customers = read_csv(dataset_path(root, manifest, "customers"))
    ids = Counter(c[0] for c in customers)
    ordered = {r[6] for r in clean_order_rows(root, manifest) if r[6]}
    assert ordered <= set(ids)
    injected = manifest.injected["customers"]
    assert ids.pop("") == injected["empty_customer_id"]
    assert sum(c - 1 for c in ids.values()) == injected["resent_record"]
    by_id: dict[str, list[list[str]]] = {}
    for c in customers:
        assert len(c) == 7
        assert re.fullmatch(r"[^@\s]+@example\.(com|org|net)", c[2])
        assert c[6][:10] >= c[5]
        datetime.strptime(c[6], "%Y-%m-%d %H:%M:%S")
        if c[0]:
            by_id.setdefault(c[0], []).append(c)
    for records in by_id.values():
        if len(records) > 1:
            old, new = records
            assert new[6] > old[6] and (new[2], new[3]) != (old[2], old[3])
    expected = manifest.expected["customers"]
    assert (expected.duplicates, expected.quarantined) == (
        injected["resent_record"],
        injected["empty_customer_id"],
    )


def test_products_cover_orders_but_the_unknown_codes(sample: tuple[Path, Manifest]) -> None:
    root, manifest = sample
    _, products = read_csv(dataset_path(root, manifest, "products"))
    codes = Counter(p[0] for p in products)
    assert sum(c - 1 for c in codes.values()) == manifest.injected["products"]["resent_record"]
    _, rows = read_csv(dataset_path(root, manifest, "order_lines"))
    used = {r[1] for r in rows if len(r) == 8 and is_product(r[1])}
    assert len(used - set(codes)) == manifest.injected["order_lines"]["unknown_product"]
    categories = set(contract("products")["row_rules"][2]["values"])
    latest: dict[str, str] = {}
    for code, _, category, cost, price, introduced, updated in products:
        assert category in categories
        assert Decimal(cost) >= 0 and Decimal(price) >= 0
        assert updated[:10] >= introduced
        assert updated > latest.get(code, "")
        latest[code] = updated


# --- inventory and reviews ----------------------------------------------------------------------


def test_inventory_keys_stock_outs_and_bad_on_hand(sample: tuple[Path, Manifest]) -> None:
    root, manifest = sample
    _, rows = read_csv(dataset_path(root, manifest, "inventory"))
    _, products = read_csv(dataset_path(root, manifest, "products"))
    assert len({(r[0], r[1], r[2]) for r in rows}) == len(rows)
    assert {r[1] for r in rows} <= {p[0] for p in products}
    assert len({r[2] for r in rows}) in (2, 3)
    bad = [r for r in rows if parse_int(r[3]) is None]
    assert len(bad) == manifest.injected["inventory"]["unparseable_on_hand"]
    assert manifest.expected["inventory"].quarantined == len(bad)
    assert any(r[3] == "0" for r in rows)
    assert all(int(r[4]) >= 0 for r in rows)
    for r in rows:
        date.fromisoformat(r[0])


def test_inventory_stays_under_a_million_rows_at_a_million_lines() -> None:
    plan = Plan.for_order_lines(1_000_000)
    weekly_snapshots, warehouses = 53, 3
    assert plan.products * warehouses * weekly_snapshots <= 1_000_000


def test_reviews_parse_and_carry_the_injected_defects(sample: tuple[Path, Manifest]) -> None:
    root, manifest = sample
    lines = data_lines(dataset_path(root, manifest, "reviews"), header=False)
    _, customers = read_csv(dataset_path(root, manifest, "customers"))
    _, products = read_csv(dataset_path(root, manifest, "products"))
    reviews, malformed = [], 0
    for line in lines:
        try:
            reviews.append(json.loads(line))
        except json.JSONDecodeError:
            malformed += 1
    injected = manifest.injected["reviews"]
    assert malformed == injected["malformed_json"]
    assert sum(1 for r in reviews if not 1 <= r["rating"] <= 5) == injected["rating_out_of_range"]
    ids = Counter(r["review_id"] for r in reviews)
    assert sum(c - 1 for c in ids.values()) == injected["resent_review"]
    assert sum(c - 1 for c in Counter(lines).values()) == injected["resent_review"]
    for r in reviews:
        assert list(r) == [
            "review_id",
            "stock_code",
            "customer_id",
            "rating",
            "title",
            "body",
            "created_at",
        ]
        assert isinstance(r["customer_id"], int) and isinstance(r["rating"], int)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["created_at"])
    assert {str(r["customer_id"]) for r in reviews} <= {c[0] for c in customers}
    assert {r["stock_code"] for r in reviews} <= {p[0] for p in products}
    expected = manifest.expected["reviews"]
    assert expected.quarantined == injected["malformed_json"] + injected["rating_out_of_range"]
    assert expected.duplicates == injected["resent_review"]


# --- scale, options and the CLI -----------------------------------------------------------------


def test_small_or_clean_runs_inject_nothing(tmp_path: Path) -> None:
    tiny = generate(tmp_path / "tiny", 150, 1)
    clean = generate(tmp_path / "clean", 1000, 1, defects=False)
    for manifest in (tiny, clean):
        assert all(v == 0 for d in manifest.injected.values() for v in d.values())
        assert all(e.rows_in == e.rows_silver for e in manifest.expected.values())
    assert generate(tmp_path / "one", 1, 1).files["order_lines"].lines == 1


def test_defects_appear_from_two_hundred_lines(tmp_path: Path) -> None:
    manifest = generate(tmp_path, 200, 5)
    assert all(v >= 1 for d in manifest.injected.values() for v in d.values())
    assert manifest.files["order_lines"].lines == 200


def test_order_lines_out_of_range_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="order_lines"):
        generate(tmp_path, 0, 1)


def test_progress_is_reported_up_to_done(tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    generate(tmp_path, 500, 1, progress=lambda stage, done: seen.append((stage, done)))
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_cli_generates_quietly_and_reports_counts(tmp_path: Path) -> None:
    runner = CliRunner()
    quiet = runner.invoke(
        app,
        [
            "generate",
            "--out",
            str(tmp_path / "q"),
            "--order-lines",
            "300",
            "--seed",
            "3",
            "--quiet",
        ],
    )
    assert quiet.exit_code == 0, quiet.output
    assert quiet.output == ""
    assert Manifest.read(tmp_path / "q").order_lines_requested == 300
    loud = runner.invoke(
        app, ["generate", "--out", str(tmp_path / "l"), "--order-lines", "300", "--seed", "3"]
    )
    assert loud.exit_code == 0, loud.output
    assert "order_lines" in loud.output and "quarantined" in loud.output
    assert file_bytes(tmp_path / "q") == file_bytes(tmp_path / "l")


def test_cli_clean_option_and_bad_sizes(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["generate", "--out", str(tmp_path), "--seed", "3", "--quiet", "--order-lines"]
    clean = runner.invoke(app, [*args, "300", "--clean"])
    assert clean.exit_code == 0, clean.output
    injected = Manifest.read(tmp_path).injected
    assert all(v == 0 for d in injected.values() for v in d.values())
    refused = runner.invoke(app, [*args, "0"])
    assert refused.exit_code != 0
