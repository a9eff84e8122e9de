"""The analysts' Streamlit dashboard: ``streamlit run dashboard/app.py -- --lake DIR`` (or
``-- --aws --workgroup WG --database DB``: gold through Athena)."""

from __future__ import annotations

import sys
from pathlib import Path

# streamlit runs this file as a script: make the repository importable (dashboard, medallion)
REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import streamlit as st  # noqa: E402

from dashboard import data, pages  # noqa: E402

PAGES = [
    st.Page(pages.revenue_trend, title="Revenue trend", url_path="revenue", default=True),
    st.Page(pages.top_products, title="Top products", url_path="products"),
    st.Page(pages.rfm_segments, title="RFM segments", url_path="segments"),
    st.Page(pages.cohort_heat_map, title="Cohort retention", url_path="cohorts"),
    st.Page(pages.inventory_alerts, title="Inventory alerts", url_path="inventory"),
    st.Page(pages.data_quality, title="Data quality", url_path="quality"),
    st.Page(pages.customer_value, title="Customer value", url_path="value"),
]


def main() -> None:
    """Lay out the app and run the page the URL asks for."""
    st.set_page_config(page_title="medallion · gold", layout="wide")
    page = st.navigation(PAGES)
    data.start_page()
    page.run()
    data.show_scans()


main()
