"""Gold's inputs: the silver columns the marts use, typed as the contracts type them."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from jobs.common import frames
from jobs.common.contracts import Contract
from jobs.common.lake import LakeFiles, LakePaths

# Only the columns the marts use are read: an explicit schema spares Spark reading footers to
# infer one, and a silver column changing type in its contract changes it here too.
MART_INPUTS: dict[str, tuple[str, ...]] = {
    "order_lines": (
        "invoice_no", "stock_code", "description", "quantity", "invoiced_at", "customer_id",
        "country", "is_cancellation", "is_product", "line_amount",
    ),
    "products": ("stock_code", "description", "category"),
    "inventory": ("snapshot_date", "stock_code", "warehouse", "on_hand", "on_order"),
    "reviews": ("stock_code", "rating", "created_at"),
}  # fmt: skip


def silver_schema(spark: SparkSession, contract: Contract, columns: tuple[str, ...]) -> StructType:
    """The silver types of ``columns``: a typed column's from the contract, a derived column's
    the type Spark gives its expression over the typed columns (analysed, nothing is run).

    Every field is nullable, as Parquet written by Spark reads back.
    """
    typed = ", ".join(f"`{c.name}` {c.type}" for c in contract.columns)
    frame = frames.empty(spark, typed)
    for derived in contract.derived:
        frame = frame.withColumn(derived.name, F.expr(derived.expression))
    fields = {field.name: field for field in frame.schema.fields}
    missing = [name for name in columns if name not in fields]
    if missing:
        raise KeyError(f"{contract.source_file}: gold needs silver column(s) {missing}")
    return StructType([StructField(name, fields[name].dataType, True) for name in columns])


def silver_schemas(spark: SparkSession, contracts: Mapping[str, Contract]) -> dict[str, StructType]:
    """The schema gold reads of each input dataset, from the contracts."""
    return {
        dataset: silver_schema(spark, contracts[dataset], columns)
        for dataset, columns in MART_INPUTS.items()
    }


def read_silver(
    spark: SparkSession, paths: LakePaths, dataset: str, schema: StructType
) -> DataFrame | None:
    """The silver table of a dataset, or None when it has no Parquet files yet.

    Parameters
    ----------
    spark : SparkSession
        The job's session.
    paths : LakePaths
        The lake's layout.
    dataset : str
        A key of ``MART_INPUTS``.
    schema : StructType
        The columns to read (``silver_schemas``).

    Returns
    -------
    DataFrame or None
        The columns of ``schema``, typed; None when the dataset is absent.
    """
    root = paths.silver(dataset)
    if not LakeFiles(spark).exists(root):
        return None
    frame = spark.read.schema(schema).parquet(root)
    # inputFiles() answers from the listing Spark just made, without listing again.
    if not any(name.endswith(".parquet") for name in frame.inputFiles()):
        return None
    # The year/month/day partition columns are discovered from the paths; the marts use none.
    return frame.select(*schema.fieldNames())
