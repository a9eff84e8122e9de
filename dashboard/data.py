"""How the dashboard reads gold: Athena SQL on the local catalog (as ``medallion query``) or, with
``--aws``, on Athena in the stack's analysts' workgroup (as ``medallion query --aws``).

On Athena every answer is kept for ``ATHENA_CACHE_SECONDS`` in the server process, so a browser
refresh, another tab or going back to a page shows the kept rows and scans nothing. Each page
ends with what its queries scanned and cost (``show_scans``).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from medallion.aws.athena import QueryError, QueryResult, Workgroup, human_bytes
from medallion.aws.athena import query as athena_query
from medallion.local import catalog

LAKE_ENV = "MEDALLION_LAKE"
ATHENA_CACHE_SECONDS = 15 * 60
LOCAL_CACHE_SECONDS = 30
_SCANS = "medallion_scans"


@dataclass(frozen=True)
class Source:
    """Where the pages read gold: a local lake, or Athena (workgroup and database resolved)."""

    lake: str | None = None
    athena: Workgroup | None = None

    def describe(self) -> str:
        if self.athena is not None:
            return f"Athena database `{self.athena.database}` (workgroup `{self.athena.name}`)"
        return f"the lake at `{self.lake}`"


@dataclass(frozen=True)
class Scan:
    """One query of the page: what Athena scanned and charged, or that it came from the cache."""

    bytes_scanned: int
    cost_usd: float
    cached: bool


def parse_source(args: list[str]) -> Source:
    """The source named after ``--`` on the streamlit command line: ``--lake DIR``, or ``--aws``
    with ``--workgroup``, ``--database`` and optionally ``--region``, ``--endpoint-url`` and
    ``--s3-output``; else the lake of $MEDALLION_LAKE (default ``lake``)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--lake")
    parser.add_argument("--aws", action="store_true")
    for name in ("--workgroup", "--database", "--region", "--endpoint-url", "--s3-output"):
        parser.add_argument(name)
    known, _ = parser.parse_known_args(args)
    if known.aws:
        return Source(
            athena=Workgroup(
                name=known.workgroup,
                database=known.database or "gold",
                region=known.region,
                endpoint_url=known.endpoint_url,
                s3_output=known.s3_output,
            )
        )
    lake = known.lake or os.environ.get(LAKE_ENV, "lake")
    return Source(lake=str(Path(lake).resolve()))


def source() -> Source:
    """This server's source, from its command line."""
    return parse_source(sys.argv[1:])


def lake_root() -> str:
    """The local lake (``--lake DIR`` after ``--``, else $MEDALLION_LAKE)."""
    return source().lake or ""


@st.cache_resource(show_spinner=False)
def _refresh_views(lake: str) -> list[str]:
    # Once per server: the views as sql/ defines them now, not as the last run left them.
    return catalog.create_views(lake, strict=False)


@st.cache_data(ttl=LOCAL_CACHE_SECONDS, show_spinner=False)
def _cached_local(lake: str, sql: str) -> pd.DataFrame:
    _refresh_views(lake)
    return catalog.execute(lake, sql)


class AthenaCache:
    """Athena answers by SQL for this server process, each kept for a while."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._kept: dict[tuple[Workgroup, str], tuple[float, QueryResult]] = {}

    def get(self, where: Workgroup, sql: str) -> tuple[QueryResult, bool]:
        """The answer and whether it came from the cache (a query runs only when it did not)."""
        key = (where, sql)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and time.monotonic() - kept[0] < self.seconds:
                return kept[1], True
        result = athena_query(sql, where)
        with self._lock:
            self._kept[key] = (time.monotonic(), result)
        return result, False


@st.cache_resource(show_spinner=False)
def _athena_cache() -> AthenaCache:
    return AthenaCache(ATHENA_CACHE_SECONDS)


def start_page() -> None:
    """Forget the previous page's scans (called before each page runs)."""
    st.session_state[_SCANS] = []


def query(sql: str) -> pd.DataFrame | None:
    """Rows of an Athena query on gold, or None (with a note on the page) when unavailable.

    Parameters
    ----------
    sql
        Athena SQL over the gold views and tables.

    Returns
    -------
    pandas.DataFrame or None
        None when the view's data is not there yet: the page says so instead of failing.
    """
    where = source()
    try:
        if where.athena is not None:
            result, cached = _athena_cache().get(where.athena, sql)
            scans: list[Scan] = st.session_state.setdefault(_SCANS, [])
            scans.append(Scan(result.bytes_scanned or 0, result.cost_usd or 0.0, cached))
            return result.frame
        return _cached_local(where.lake or "", sql)
    except QueryError as err:
        st.warning(f"Not available in {where.describe()} yet: {err}")
        return None


def scan_summary(scans: list[Scan]) -> str:
    """One line on what a page's Athena queries scanned and cost."""
    fresh = [s for s in scans if not s.cached]
    scanned = sum(s.bytes_scanned for s in fresh)
    cost = sum(s.cost_usd for s in fresh)
    kept = len(scans) - len(fresh)
    # Dollar signs escaped: Streamlit's markdown reads $...$ as LaTeX.
    return (
        f"Athena: {len(fresh)} quer{'y' if len(fresh) == 1 else 'ies'} run for this page, "
        f"{human_bytes(scanned)} scanned ({scanned:,} bytes), \\${cost:.6f} at \\$5/TB "
        f"(10 MB minimum per query); {kept} answered from the cache, scanning nothing."
    )


def show_scans() -> None:
    """Under the page: on Athena, what its queries scanned and cost."""
    if source().athena is None:
        return
    st.caption(scan_summary(st.session_state.get(_SCANS, [])))
