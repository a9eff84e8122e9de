"""The headline gold figures analysts will see, read through the views of the local catalog."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from medallion.aws.athena import QueryError
from medallion.local import catalog

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Headline:
    """One section of the report: a title, its query (Athena SQL) and the rows or the error."""

    title: str
    sql: str
    frame: pd.DataFrame | None = None
    error: str | None = None


HEADLINES: tuple[tuple[str, str], ...] = (
    (
        "Monthly revenue, all countries (last 6 months)",
        """
        with monthly as (
            select
                sales_month,
                sum(orders) as orders,
                sum(net_revenue) as net_revenue,
                bool_or(is_partial_month) as is_partial_month
            from v_monthly_revenue
            group by sales_month
        ),
        growth as (
            select
                sales_month,
                orders,
                net_revenue,
                cast(net_revenue - lag(net_revenue) over (order by sales_month) as double)
                    / nullif(cast(lag(net_revenue) over (order by sales_month) as double), 0)
                    as mom_growth,
                case when is_partial_month then 'partial month' else '' end as note
            from monthly
        )
        select * from growth order by sales_month desc limit 6
        """,
    ),
    (
        "Customer segments by revenue (top 5)",
        """
        select segment, customer_count, customer_share, revenue, revenue_share, avg_recency_days
        from v_customer_segments
        order by revenue desc
        limit 5
        """,
    ),
    (
        "Inventory alerts on the latest snapshot",
        """
        select alert_type, count(*) as alerts, max(snapshot_date) as snapshot_date
        from v_inventory_alerts
        group by alert_type
        order by min(alert_priority)
        """,
    ),
    (
        "Data quality per dataset (latest result of each rule, latest run's ledger)",
        """
        with rules as (
            select
                dataset,
                count_if(status = 'pass') as passed,
                count_if(status = 'warn') as warned,
                count_if(is_quarantining) as quarantining,
                count_if(is_blocking) as blocking
            from v_quality_latest
            group by dataset
        ),
        latest_run as (
            select *, row_number() over (partition by dataset order by started_at desc) as n
            from v_run_ledger
        )
        select
            rules.dataset,
            latest_run.run_status as last_run,
            rules.passed,
            rules.warned,
            rules.quarantining,
            rules.blocking,
            latest_run.rows_in,
            latest_run.rows_clean as clean,
            latest_run.rows_quarantined as quarantined,
            latest_run.rows_duplicate as duplicates,
            latest_run.rows_duplicate_event as duplicate_events
        from rules
        left join latest_run on latest_run.dataset = rules.dataset and latest_run.n = 1
        order by rules.dataset
        """,
    ),
)


class EmptyLakeError(Exception):
    """The lake has no gold tables yet: there is nothing to report."""


MISSING_VIEW = re.compile(r"with name (v_\w+) does not exist")


def headlines(lake_root: str) -> list[Headline]:
    """Refresh the views, then run every headline query; a failed one carries its error.

    The report's SQL is not the user's: an error says what is missing, never a position in it.

    Parameters
    ----------
    lake_root
        The lake directory, after a local run.

    Returns
    -------
    list[Headline]
        One per section, in report order.

    Raises
    ------
    EmptyLakeError
        When the lake has no gold tables.
    """
    # The views as sql/ defines them now, not as the last run left them.
    catalog.create_views(lake_root, strict=False)
    tables = catalog.list_tables(lake_root)
    marts = tables[(tables["database"] == "gold") & (tables["kind"] == "table")]
    # the quality records are gold tables too, there (empty) before any run
    if marts["name"].str.startswith("quality_").all():
        raise EmptyLakeError(f"no gold tables in {lake_root}: run `medallion run` first")
    found = []
    for title, sql in HEADLINES:
        try:
            found.append(Headline(title, sql, catalog.execute(lake_root, sql)))
        except QueryError as err:
            missing = MISSING_VIEW.search(err.message)
            error = (
                f"view {missing.group(1)} is missing: the gold tables it reads are not in "
                f"{lake_root}"
                if missing
                else err.message
            )
            found.append(Headline(title, sql, error=error))
    return found
