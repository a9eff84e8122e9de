"""Silver transforms: type, check, hash and deduplicate bronze rows as their contract says."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.common.contracts import Column as ContractColumn
from jobs.common.contracts import Contract, EventStream
from jobs.common.quality import RowCheck, parseable_check, unparsed_name, well_formed_check

LINEAGE = ["_ingest_run_id", "_ingest_file", "_ingest_line", "_ingest_at"]
# Bronze's columns of its own that silver reads, besides the contract's source columns.
BRONZE_OWN = {
    *LINEAGE, "_ingest_encoding", "_corrupt_record", "_corrupt_reason", "ingest_date", "run_id",
}  # fmt: skip
TRUE_WORDS = ["true", "t", "yes", "y", "1"]
FALSE_WORDS = ["false", "f", "no", "n", "0"]


def raw_name(source: str) -> str:
    """Bronze columns are renamed on the way in: Spark names are case-insensitive, and a source
    column such as Quantity would otherwise collide with its silver name quantity."""
    return f"_raw__{source}"


def raw_value(source: str) -> Column:
    """The bronze string, trimmed, with empty meaning missing."""
    trimmed = F.trim(F.col(f"`{raw_name(source)}`"))
    return F.when(trimmed != "", trimmed)


def parse_value(raw: Column, column: ContractColumn) -> Column:
    """Parse a trimmed string into the column's type; NULL when it does not parse."""
    kind = column.type
    if kind == "string":
        return raw
    if kind in ("int", "bigint"):
        # Integers written as 17850.0 (spreadsheet exports) are still integers.
        number = raw.cast("decimal(38,6)")
        whole = F.when(number == F.floor(number), number)
        return whole.cast(kind)
    if kind == "double":
        return raw.cast("double")
    if kind.startswith("decimal"):
        return raw.cast(kind)
    if kind == "date":
        return F.coalesce(*[F.to_date(raw, f) for f in column.formats or ("yyyy-MM-dd",)])
    if kind == "timestamp":
        if not column.formats:
            return raw.cast("timestamp")
        return F.coalesce(*[F.to_timestamp(raw, f) for f in column.formats])
    if kind == "boolean":
        word = F.lower(raw)
        return F.when(word.isin(TRUE_WORDS), True).when(word.isin(FALSE_WORDS), False)
    raise ValueError(f"unsupported type {kind}")  # pragma: no cover - validated on load


def type_columns(bronze: DataFrame, contract: Contract) -> DataFrame:
    """Add the typed silver columns, a ``_unparsed_<name>`` flag for each, and derived columns.

    The bronze source columns stay, so a quarantined row keeps its raw values.
    """
    typed = [parse_value(raw_value(c.source), c).alias(c.name) for c in contract.typed_columns]
    # Flags read the parsed columns in a second select, so each value is parsed once.
    flags = [
        (raw_value(c.source).isNotNull() & F.col(c.name).isNull()).alias(unparsed_name(c.name))
        for c in contract.typed_columns
        if not c.is_string
    ]
    sources = {c.source for c in contract.typed_columns}
    # Columns bronze keeps beyond the contract's stay in bronze: a name such as quantity or
    # year would clash with a silver column here.
    renamed = [
        F.col(f"`{name}`").alias(raw_name(name)) if name in sources else F.col(f"`{name}`")
        for name in bronze.columns
        if name in sources or name in BRONZE_OWN
    ]
    # Rows of exports alone (a batch, or a test's frame, without a stream object) lack the
    # event columns: null, as in an export's rows of a batch that has both.
    present = {name.lower() for name in bronze.columns}
    renamed += [
        F.lit(None).cast("string").alias(raw_name(c.source))
        for c in contract.event_columns
        if c.source.lower() not in present
    ]
    frame = bronze.select(*renamed).select("*", *typed).select("*", *flags)
    for derived in contract.derived:
        frame = frame.withColumn(derived.name, F.expr(derived.expression))
    return frame


def parse_checks(contract: Contract, pii: set[str]) -> list[RowCheck]:
    """The implicit rules (``jobs.common.quality.implicit``) over bronze's raw values: every
    line well formed, every typed value parseable; a PII value is shown as ``<pii>``."""
    return [
        well_formed_check(contract),
        *[
            parseable_check(contract, c, F.lit("<pii>") if c.name in pii else raw_value(c.source))
            for c in contract.typed_columns
            if not c.is_string
        ],
    ]


def hash_pii(frame: DataFrame, columns: Sequence[str], salt: str) -> DataFrame:
    """Replace each PII column by the lower-case hex SHA-256 of salt + value (NULL stays NULL)."""
    for name in columns:
        value = F.col(f"`{name}`").cast("string")
        hashed = F.sha2(F.concat(F.lit(salt), value), 256)
        frame = frame.withColumn(name, F.when(value.isNotNull(), hashed))
    return frame


def add_date_partitions(frame: DataFrame, business_date: str, columns: Sequence[str]) -> DataFrame:
    """The year, month and day partition columns (those asked for) from the business date."""
    day = F.to_date(F.col(business_date))
    parts = {"year": F.year(day), "month": F.month(day), "day": F.dayofmonth(day)}
    return frame.select("*", *[parts[name].alias(name) for name in columns])


def silver_columns(contract: Contract) -> list[str]:
    return [*contract.silver_columns, "dq_warnings", *LINEAGE]


def quarantine_columns(contract: Contract) -> list[Column]:
    """What a quarantined row keeps: raw values, the reasons, lineage, and its bronze batch."""
    return [
        *[F.col(f"`{raw_name(c.source)}`").alias(c.source) for c in contract.typed_columns],
        F.col("_corrupt_record"),
        F.col("dq_failed_rules"),
        F.col("dq_reasons"),
        *[F.col(name) for name in LINEAGE],
        F.col("ingest_date"),
        F.col("run_id"),
    ]


def keep_first_of_exact_duplicates(
    rows: DataFrame, data_columns: Sequence[str], partitions: Sequence[str]
) -> DataFrame:
    """One row per distinct set of data values; the earliest ingested copy keeps its lineage.

    Grouping includes the date partitions, so rows already distributed by them are not
    shuffled again (shared/PERFORMANCE.md). They come first: the aggregate sorts by its keys,
    and rows sorted by partition already are what a partitioned write needs, so it does not
    sort them again.
    """
    order = ["_ingest_at", "_ingest_run_id", "_ingest_file", "_ingest_line"]
    first = F.min(F.struct(*[F.col(c) for c in order]))
    kept = rows.groupBy(*partitions, *data_columns).agg(
        first.alias("_first"), F.first("dq_warnings").alias("dq_warnings")
    )
    return kept.select(
        *data_columns,
        "dq_warnings",
        *[F.col(f"_first.{c}").alias(c) for c in LINEAGE],
        *partitions,
    )


def keep_one_per_event_or_exact(
    rows: DataFrame, stream: EventStream, data_columns: Sequence[str], partitions: Sequence[str]
) -> DataFrame:
    """Lines with an event id: one per id, the earliest sent copy (then the earliest ingested,
    as ``keep_first_of_exact_duplicates`` keeps lineage), whatever else differs; lines without
    one (exports) keep the exact-duplicate rule.

    The copies of an event are one order line sent again, so they share its invoice date and
    its date partition: grouping within the partitions reuses the shuffle by date.
    """
    event = F.col(stream.event_id)
    exact = keep_first_of_exact_duplicates(rows.where(event.isNull()), data_columns, partitions)
    # A copy whose time is missing (a JSON null) ranks after every timed one.
    ordering = [F.col(stream.sent_at).asc_nulls_last(), F.col("_ingest_at"),
                F.col("_ingest_run_id"), F.col("_ingest_file"), F.col("_ingest_line")]  # fmt: skip
    window = Window.partitionBy(*partitions, stream.event_id).orderBy(*ordering)
    events = (
        rows.where(event.isNotNull())
        .withColumn("_rank", F.row_number().over(window))
        .where("_rank = 1")
        .select(*exact.columns)
    )
    return exact.unionByName(events)


def keep_latest_per_key(
    rows: DataFrame, key: Sequence[str], order_by: Sequence[str], within: Sequence[str] = ()
) -> DataFrame:
    """One row per key: the latest by the contract's order, then by ingestion (newest wins).

    ``within`` are columns the key determines (the date partitions of a key that holds the
    business date): ranking within them reuses a shuffle by them, and leaves rows sorted the way
    a partitioned write wants them.
    """
    ordering = [F.col(c).desc_nulls_last() for c in order_by] + [
        F.col("_ingest_at").desc(),
        F.col("_ingest_file").desc(),
        F.col("_ingest_line").desc(),
    ]
    window = Window.partitionBy(*within, *key).orderBy(*ordering)
    return rows.withColumn("_rank", F.row_number().over(window)).where("_rank = 1").drop("_rank")


def partition_label(values: Sequence[int]) -> str:
    """``(2011, 3, 7)`` -> ``"2011-03-07"``; ``(2011, 3)`` -> ``"2011-03"``."""
    return "-".join(f"{v:04d}" if i == 0 else f"{v:02d}" for i, v in enumerate(values))


def partition_filter(touched: Sequence[tuple[int, ...]], partitions: Sequence[str]) -> Column:
    """True for rows in the given date partitions; prunes files when read."""
    keys = [partition_label(t) for t in touched]
    return partition_label_column(partitions).isin(keys) if keys else F.lit(False)


def partition_label_column(partitions: Sequence[str]) -> Column:
    """A row's ``partition_label`` (``2011-03-07``, or ``2011-03`` by month); NULL without."""
    pattern = "-".join("%04d" if i == 0 else "%02d" for i in range(len(partitions)))
    label = F.format_string(pattern, *[F.col(p) for p in partitions])
    return F.when(F.col(partitions[0]).isNotNull(), label)
