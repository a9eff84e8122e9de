"""How the dashboard reads gold: Athena SQL through the local catalog, as ``medallion query``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import streamlit as st

from medallion.aws.athena import QueryError
from medallion.local import catalog

LAKE_ENV = "MEDALLION_LAKE"


def lake_root() -> str:
    """The lake: ``--lake DIR`` after ``--`` on the streamlit command line, else $MEDALLION_LAKE."""
    args = sys.argv[1:]
    if "--lake" in args and args.index("--lake") + 1 < len(args):
        return str(Path(args[args.index("--lake") + 1]).resolve())
    return str(Path(os.environ.get(LAKE_ENV, "lake")).resolve())


@st.cache_resource(show_spinner=False)
def _refresh_views(lake: str) -> list[str]:
    # Once per server: the views as sql/ defines them now, not as the last run left them.
    return catalog.create_views(lake, strict=False)


@st.cache_data(ttl=30, show_spinner=False)
def _cached(lake: str, sql: str) -> pd.DataFrame:
    _refresh_views(lake)
    return catalog.execute(lake, sql)


def query(sql: str) -> pd.DataFrame | None:
    """Rows of an Athena query on the lake, or None (with a note on the page) when unavailable.

    Parameters
    ----------
    sql
        Athena SQL over the gold views and tables.

    Returns
    -------
    pandas.DataFrame or None
        None when the view's data is not in the lake yet: the page says so instead of failing.
    """
    try:
        return _cached(lake_root(), sql)
    except QueryError as err:
        st.warning(f"Not available in this lake yet: {err}")
        return None
