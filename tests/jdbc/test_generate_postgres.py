"""`medallion generate --postgres`: the generated datasets loaded into a real PostgreSQL server,
and contracts written that read them back."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from jobs.common.contracts import load_contracts_dir
from medallion.cli.app import app
from medallion.sample.pgserver import LocalPostgres


def test_generate_loads_every_loadable_line_and_writes_database_contracts(
    postgres: LocalPostgres, tmp_path: Path
) -> None:
    landing, contracts = tmp_path / "landing", tmp_path / "db-contracts"
    result = CliRunner().invoke(
        app,
        [
            "generate", "--order-lines", "400", "--out", str(landing), "--postgres",
            postgres.url(), "--schema", "gen_test", "--database-contracts", str(contracts),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert postgres.password not in result.output
    assert "postgresql://medallion:***@127.0.0.1" in result.output

    with (landing / "customers" / "customers.csv").open(newline="", encoding="utf-8") as f:
        header, *lines = list(csv.reader(f))
    rows = postgres.execute(
        'SELECT "CustomerID", "Email", row_id FROM gen_test.customers ORDER BY row_id'
    )
    assert len(rows) == len(lines)
    assert [(r[0], r[1]) for r in rows] == [
        (line[header.index("CustomerID")], line[header.index("Email")]) for line in lines
    ]
    assert [r[2] for r in rows] == list(range(1, len(lines) + 1))

    order_lines = (landing / "order_lines" / "order_lines.csv").read_bytes().splitlines()
    loaded = int(str(postgres.execute("SELECT count(*) FROM gen_test.order_lines")[0][0]))
    not_loadable = len(order_lines) - 1 - loaded
    assert 0 < not_loadable < 10  # the generator's wrong-field-count lines
    assert f"{not_loadable:,}" in result.output

    parsed = load_contracts_dir(contracts)
    assert set(parsed) == {"order_lines", "customers", "products", "inventory", "reviews"}
    for dataset, contract in parsed.items():
        assert contract.database is not None
        assert contract.database.name == f"jdbc:postgresql/gen_test.{dataset}"
        assert contract.database.watermark_column == "row_id"


def test_an_unreachable_database_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "generate", "--order-lines", "50", "--out", str(tmp_path / "landing"), "--postgres",
            "postgresql://reader:example-pw@127.0.0.1:1/retail", "--quiet",
        ],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "cannot load into the database" in result.output
    assert "example-pw" not in result.output
    assert "Traceback" not in result.output
