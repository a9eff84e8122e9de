"""The contract's source: section, and the SQL, URLs and credentials built from it (PostgreSQL
and SQL Server: no SQL Server runs here, so its statements are checked as text)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.common.contracts import Contract, load_contracts_dir, parse_contract
from jobs.common.errors import ConfigurationError, ContractError
from jobs.common.jdbc import (
    DRIVERS,
    Credentials,
    credentials_from_url,
    jdbc_url,
    load_credentials,
    read_options,
    source_error,
)
from jobs.common.jdbc_source import DatabaseSource, Watermark, parse_source

BASE = """\
dataset: orders
columns:
  - {source: order_id, name: order_id, type: bigint}
  - {source: updated_at, name: updated_at, type: timestamp, format: "yyyy-MM-dd HH:mm:ss"}
key: [order_id]
deduplicate: {strategy: latest_per_key, order_by: [updated_at]}
business_date: updated_at
"""
SOURCE = """\
source:
  engine: postgresql
  schema: shop
  table: orders
  mode: incremental
  watermark_column: updated_at
  overlap_minutes: 30
"""


def contract_with(source: str) -> Contract:
    return parse_contract("contracts/orders.yaml", BASE + source)


def test_a_source_section_is_read_into_typed_fields() -> None:
    contract = contract_with(SOURCE + "  partition_column: order_id\n  lower_bound: 1\n"
                             "  upper_bound: 1000\n  num_partitions: 4\n"
                             "  soft_delete_column: is_deleted\n")  # fmt: skip
    source = contract.database
    assert source is not None and contract.format == "jdbc"
    assert source.name == "jdbc:postgresql/shop.orders"
    assert (source.mode, source.watermark_column, source.overlap_minutes) == (
        "incremental",
        "updated_at",
        30,
    )
    assert (source.partition_column, source.lower_bound, source.upper_bound) == (
        "order_id",
        1,
        1000,
    )
    assert source.num_partitions == 4 and source.soft_delete_column == "is_deleted"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("  engine: oracle\n", "source: field 'engine' is 'oracle'"),
        ("  table: orders; DROP TABLE x\n", "source: field 'table': 'orders; DROP TABLE x' is not"),
        ('  watermark_column: "updated_at\\" > 0 --"\n', "source: field 'watermark_column'"),
        ("  mode: sometimes\n", "source: field 'mode' is 'sometimes'"),
        ("  overlap_minutes: soon\n", "source: field 'overlap_minutes' must be int"),
        ("  overlap_minutes: -5\n", "must not be negative"),
        ("  colour: blue\n", "source: unknown field(s) ['colour']"),
        ("  partition_column: order_id\n", "'partition_column' needs 'lower_bound'"),
    ],
)
def test_a_malformed_source_names_the_file_and_the_field(change: str, message: str) -> None:
    key = change.split(":")[0].strip()
    lines = [line for line in SOURCE.splitlines(keepends=True) if not line.startswith(f"  {key}:")]
    with pytest.raises(ContractError) as error:
        contract_with("".join(lines) + change)
    assert str(error.value).startswith("contracts/orders.yaml: source: ")
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("DELETE FROM shop.orders", "must start with SELECT or WITH"),
        ("SELECT * FROM shop.orders; DROP TABLE shop.orders", "without ';'"),
        ("WITH d AS (DELETE FROM shop.orders RETURNING *) SELECT * FROM d", "'DELETE'"),
        ("SELECT * INTO copy FROM shop.orders", "'INTO'"),
        ("SELECT * FROM shop.orders -- x", "comments"),
    ],
)
def test_only_a_read_only_query_is_taken(query: str, message: str) -> None:
    with pytest.raises(ContractError) as error:
        contract_with(f"source:\n  engine: postgresql\n  mode: snapshot\n  query: {query!r}\n")
    assert str(error.value).startswith("contracts/orders.yaml: source: field 'query'")
    assert message in str(error.value)


def test_a_query_may_name_write_words_inside_string_literals() -> None:
    text = "SELECT * FROM shop.orders WHERE note <> 'delete me'"
    contract = contract_with(
        f'source:\n  engine: postgresql\n  mode: snapshot\n  query: "{text}"\n'
    )
    assert contract.database is not None
    assert contract.database.select() == f"SELECT * FROM ({text}) src"
    assert contract.database.name == "jdbc:postgresql/query"


def test_other_contract_errors_of_a_database_dataset() -> None:
    with pytest.raises(ContractError, match="incremental' needs 'watermark_column'"):
        contract_with("source:\n  engine: postgresql\n  schema: s\n  table: t\n")
    with pytest.raises(ContractError, match="field 'format' is for landing files"):
        contract_with(SOURCE + "format: csv\n")
    with pytest.raises(ContractError, match="either 'query' or 'schema' and 'table'"):
        contract_with(SOURCE + "  query: SELECT 1\n")


def test_the_shipped_contracts_have_no_database_source() -> None:
    contracts = load_contracts_dir(Path(__file__).resolve().parents[2] / "contracts")
    assert all(c.database is None for c in contracts.values())


def test_postgresql_statements() -> None:
    source = contract_with(SOURCE).database
    assert source is not None
    mark = Watermark("timestamp", "2024-06-01T08:20:00.000000")
    start = source.window_start(mark)
    assert start == Watermark("timestamp", "2024-06-01T07:50:00.000000")
    assert source.select(start, mark) == (
        'SELECT * FROM "shop"."orders" WHERE "updated_at" > '
        "TIMESTAMP '2024-06-01 07:50:00.000000'"
        " AND \"updated_at\" <= TIMESTAMP '2024-06-01 08:20:00.000000'"
    )
    assert source.highest() == 'SELECT MAX("updated_at") AS m FROM "shop"."orders"'
    instant = Watermark("timestamptz", "2024-06-01T08:20:00.000000")
    assert source.literal(instant) == "TIMESTAMP WITH TIME ZONE '2024-06-01 08:20:00.000000+00:00'"


def test_sql_server_statements_url_and_driver() -> None:
    source = DatabaseSource(
        engine="sqlserver",
        schema="dbo",
        table="Orders",
        query=None,
        mode="incremental",
        watermark_column="OrderId",
        overlap_ids=100,
    )
    assert source.name == "jdbc:sqlserver/dbo.Orders"
    start = source.window_start(Watermark("integer", "5000"))
    assert source.select(start, Watermark("integer", "7000")) == (
        "SELECT * FROM [dbo].[Orders] WHERE [OrderId] > 4900 AND [OrderId] <= 7000"
    )
    assert source.count_at_or_before(start) == (
        "SELECT COUNT(*) AS n FROM [dbo].[Orders] WHERE [OrderId] <= 4900"
    )
    moment = Watermark("timestamp", "2024-06-01T08:20:00.000000")
    assert source.literal(moment) == "CAST('2024-06-01 08:20:00.000000' AS DATETIME2)"
    instant = Watermark("timestamptz", "2024-06-01T08:20:00.000000")
    assert source.literal(instant) == "CAST('2024-06-01 08:20:00.000000 +00:00' AS DATETIMEOFFSET)"
    credentials = Credentials("reader", "pw-example", "db.example.com", 0, "sales")
    assert jdbc_url("sqlserver", credentials) == (
        "jdbc:sqlserver://db.example.com:1433;databaseName=sales;"
        "encrypt=true;trustServerCertificate=false"
    )
    options = read_options(source, credentials)
    assert (
        options["driver"] == DRIVERS["sqlserver"] == "com.microsoft.sqlserver.jdbc.SQLServerDriver"
    )
    assert options["preferTimestampNTZ"] == "true" and options["fetchsize"] == "10000"
    assert "pw-example" not in options["url"]


def test_identifiers_are_checked_again_when_quoted() -> None:
    source = DatabaseSource("postgresql", "s", "t", None, "snapshot")
    with pytest.raises(ValueError, match="not a plain identifier"):
        source.quote('x" OR 1=1')


def test_credentials_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    from_url = credentials_from_url("postgresql://reader:s%40cret@127.0.0.1:6543/retail")
    assert (from_url.username, from_url.password, from_url.port) == ("reader", "s@cret", 6543)
    assert "s@cret" not in repr(from_url)
    env = {"MEDALLION_DB_URL": "postgresql://reader@db.example.com/retail"}
    with_password = load_credentials("", {**env, "MEDALLION_DB_PASSWORD": "from-env"})
    assert with_password.password == "from-env"
    assert jdbc_url("postgresql", with_password) == "jdbc:postgresql://db.example.com:5432/retail"
    secret = tmp_path / "db.json"
    shape = {"username": "r", "password": "p", "host": "h.example.com", "port": 5432, "dbname": "d"}
    secret.write_text(json.dumps(shape))
    assert load_credentials("", {"MEDALLION_DB_SECRET_FILE": str(secret)}).host == "h.example.com"
    secret.write_text(json.dumps({**shape, "password": ""}))
    with pytest.raises(
        ConfigurationError, match="MEDALLION_DB_SECRET_FILE: the secret lacks password"
    ):
        load_credentials("", {"MEDALLION_DB_SECRET_FILE": str(secret)})
    with pytest.raises(ConfigurationError, match="set MEDALLION_DB_URL"):
        load_credentials("", {})


def test_a_driver_error_becomes_one_line_without_the_password() -> None:
    source = DatabaseSource("postgresql", "shop", "orders", None, "snapshot")
    credentials = Credentials("reader", "hunter2-example", "127.0.0.1", 5432, "retail")
    text = (
        "An error occurred while calling o81.load.\n: org.postgresql.util.PSQLException: FATAL: "
        'password authentication failed for user "reader" (tried hunter2-example)\n\tat org...'
    )
    error = source_error("orders", source, credentials, RuntimeError(text))
    assert str(error) == (
        "orders: cannot read jdbc:postgresql/shop.orders at 127.0.0.1:5432/retail: FATAL: "
        'password authentication failed for user "reader" (tried ***)'
    )


def test_a_missing_driver_is_named_with_how_to_install_it() -> None:
    source = DatabaseSource("postgresql", "shop", "orders", None, "snapshot")
    credentials = Credentials("reader", "pw-example", "127.0.0.1", 5432, "retail")
    text = "An error occurred\n: java.lang.ClassNotFoundException: org.postgresql.Driver\n\tat x"
    error = source_error("orders", source, credentials, RuntimeError(text))
    assert str(error).endswith(
        "127.0.0.1:5432/retail: the JDBC driver org.postgresql.Driver is not on Spark's classpath "
        "(locally: apt-get install libpostgresql-jdbc-java, or list jars in MEDALLION_JDBC_JARS)"
    )


def test_parse_source_refuses_a_non_mapping() -> None:
    with pytest.raises(ContractError, match=r"contracts/x\.yaml: source: must be a mapping"):
        parse_source("contracts/x.yaml", "postgresql://example.com")
