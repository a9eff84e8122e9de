"""Gold's marts: the silver datasets each needs, its grain, how it is built and written."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from jobs.gold import transforms as t

Inputs = Mapping[str, DataFrame | None]


@dataclass(frozen=True)
class Mart:
    """A gold mart: the silver datasets it cannot do without, its grain and how it is built."""

    name: str
    needs: tuple[str, ...]
    grain: tuple[str, ...]
    build: Callable[[Inputs, date], DataFrame]


def _need(inputs: Inputs, dataset: str) -> DataFrame:
    frame = inputs[dataset]
    assert frame is not None, dataset  # with_empty_inputs gave every dataset a table
    return frame


MARTS: tuple[Mart, ...] = (
    Mart(
        "sales_daily",
        ("order_lines",),
        ("sales_date", "country"),
        lambda i, _: t.daily_sales_by_country(_need(i, "order_lines")),
    ),
    Mart(
        "product_monthly",
        ("order_lines",),
        ("stock_code", "month"),
        lambda i, _: t.product_performance_by_month(
            _need(i, "order_lines"), i.get("products"), i.get("reviews")
        ),
    ),
    Mart(
        "inventory_health",
        ("inventory", "order_lines"),
        ("stock_code", "warehouse", "snapshot_date"),
        lambda i, _: t.inventory_days_of_cover(_need(i, "inventory"), _need(i, "order_lines")),
    ),
    Mart(
        "customer_rfm",
        ("order_lines",),
        ("customer_id",),
        lambda i, end: t.customer_rfm_segments(_need(i, "order_lines"), end),
    ),
    Mart(
        "customer_lifetime",
        ("order_lines",),
        ("customer_id",),
        lambda i, end: t.customer_lifetime_summary(_need(i, "order_lines"), end),
    ),
    Mart(
        "cohort_retention",
        ("order_lines",),
        ("cohort_month", "months_since"),
        lambda i, end: t.monthly_cohort_retention(_need(i, "order_lines"), end),
    ),
)


def empty_reasons(inputs: Inputs, has_sales: bool) -> dict[str, str]:
    """Why each mart that cannot hold rows is empty: a silver input missing or without sales.

    Parameters
    ----------
    inputs : Mapping[str, DataFrame | None]
        Silver tables by dataset; None (or no key) for an absent dataset.
    has_sales : bool
        Whether order_lines has at least one row.

    Returns
    -------
    dict
        ``{mart: reason}`` for the marts that are written empty.
    """
    reasons: dict[str, str] = {}
    for mart in MARTS:
        missing = [d for d in mart.needs if inputs.get(d) is None]
        if missing:
            reasons[mart.name] = "needs " + " and ".join(missing)
        elif not has_sales:
            reasons[mart.name] = "needs order_lines with at least one row"
    return reasons


def with_empty_inputs(
    spark: SparkSession, inputs: Inputs, schemas: Mapping[str, StructType]
) -> dict[str, DataFrame]:
    """Every silver input, an empty table of its silver schema where the dataset is absent.

    Every mart is then built and written whatever landed: a mart whose inputs are missing has
    zero rows but its table, so the crawler registers it and every view over it answers.
    """
    return {
        dataset: frame if frame is not None else spark.createDataFrame([], schema)
        for dataset, schema in schemas.items()
        for frame in (inputs.get(dataset),)
    }


def build_marts(inputs: Mapping[str, DataFrame], observation_end: date) -> dict[str, DataFrame]:
    """Every mart, built from the inputs (empty tables standing for absent datasets).

    Parameters
    ----------
    inputs : Mapping[str, DataFrame]
        Silver tables by dataset, every dataset present (see :func:`with_empty_inputs`).
    observation_end : date
        The run's observation end.

    Returns
    -------
    dict
        ``{mart: DataFrame}`` for every mart of ``MARTS``.
    """
    return {mart.name: mart.build(inputs, observation_end) for mart in MARTS}


def write_mart(frame: DataFrame, path: str, grain: tuple[str, ...]) -> int:
    """Replace a mart with one file sorted by its grain, so a re-run writes the same rows.

    Parameters
    ----------
    frame : DataFrame
        The mart.
    path : str
        Its directory under ``gold/``.
    grain : tuple of str
        The columns that identify a row, used as the sort order.

    Returns
    -------
    int
        Rows written, read back from the file's Parquet footer.
    """
    frame.repartition(1).sortWithinPartitions(*grain).write.mode("overwrite").parquet(path)
    # Counted from what was written, not observed during the write: an observation over a plan
    # with no partitions (an empty input, or one adaptive execution found empty) never reports,
    # and Observation.get would wait forever. A Parquet count reads only the footers.
    return int(frame.sparkSession.read.parquet(path).count())
