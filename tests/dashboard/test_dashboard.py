"""The dashboard end to end: streamlit on 127.0.0.1 over a pipeline run's lake; pages in Chromium.

Chromium's --dump-dom returns before Streamlit's websocket has drawn anything, so a tiny Chrome
DevTools Protocol client (over tornado's websocket, which streamlit already needs) waits until each
page has drawn its charts, then reads the DOM and takes the screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboard import charts  # noqa: E402
from medallion.aws.athena import QueryError, Workgroup  # noqa: E402
from medallion.cli import app  # noqa: E402
from medallion.cli.commands.dashboard import streamlit_command  # noqa: E402
from medallion.local import catalog  # noqa: E402

ARTIFACTS = REPO / "artifacts" / "dashboard"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# screenshot name -> (url path, heading, charts it must draw); the default page is at /
PAGES = {
    "revenue": ("", "Revenue trend", 2),
    "products": ("products", "Top products", 1),
    "segments": ("segments", "RFM segments", 2),
    "cohorts": ("cohorts", "Cohort retention", 1),
    "inventory": ("inventory", "Inventory alerts", 1),
    "quality": ("quality", "Data quality", 3),
    "value": ("value", "Customer value", 3),
}
STATE_JS = """
(() => {
  const all = (s) => [...document.querySelectorAll(s)];
  const charts = all('[data-testid="stVegaLiteChart"]');
  const main = document.querySelector('[data-testid="stMain"]');
  return JSON.stringify({
    charts: charts.length,
    drawn: charts.filter((c) => c.querySelector('canvas, svg')).length,
    exceptions: all('[data-testid="stException"], .stException').length,
    errors: all('[data-testid="stAlertContentError"]').map((e) => e.innerText),
    warnings: all('[data-testid="stAlertContentWarning"]').map((e) => e.innerText),
    dialogs: all('[role="dialog"]').map((e) => e.innerText),
    skeleton: all('[data-testid="stAppSkeleton"], [data-testid="stSkeleton"]').length,
    running: all('[data-testid="stStatusWidgetRunningIcon"]').length,
    heading: (all('h1, h2')[0] || {}).innerText || '',
    captions: all('[data-testid="stCaptionContainer"]').map((e) => e.innerText),
    height: main ? main.scrollHeight : 0,
  });
})()
"""


# --- pure parts: the charts -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def lake(copy_lake: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    # a copy of the real run's lake (tests/conftest.py): the app re-creates the views in it
    root = copy_lake(tmp_path_factory.mktemp("dashboard") / "lake")
    catalog.build_catalog(str(root))
    return root


@pytest.mark.slow
def test_cohort_matrix_becomes_heat_map_cells(lake: Path) -> None:
    matrix = catalog.execute(str(lake), "select * from v_cohort_retention")
    long = charts.cohort_long(matrix)
    cells = sum(int(n) + 1 for n in matrix.months_observed.clip(upper=12))
    assert len(long) == cells  # months after the data ends are no cells, not zeros
    assert long.retention.between(0, 1).all()
    spec = charts.cohort_heatmap(matrix).to_dict()
    assert spec["layer"][0]["mark"]["type"] == "rect"


@pytest.mark.slow
def test_every_chart_builds_a_vega_lite_spec(lake: Path) -> None:
    q = lambda sql: catalog.execute(str(lake), sql)  # noqa: E731
    monthly = q("select * from v_monthly_revenue")
    built = [
        charts.revenue_trend(monthly),
        charts.growth_bars(monthly),
        charts.top_products(q("select * from v_top_products")),
        charts.segments(q("select * from v_customer_segments")),
        charts.recency(q("select * from v_customer_segments")),
        charts.alerts_by_warehouse(q("select * from v_inventory_alerts")),
        charts.ledger(q("select * from v_run_ledger")),
        charts.rule_results_over_runs(pd.DataFrame(
            {"dataset": ["a"], "run_id": ["r"], "status": ["pass"], "rules": [3]})),
        charts.quarantined_by_reason(pd.DataFrame(
            {"dataset": ["a"], "rule_id": ["x"], "rows_quarantined": [3]})),
        charts.value_by_segment(q("select * from v_customer_value_segments")),
        charts.churn_risk_by_segment(q("select * from v_customer_value_segments")),
        charts.value_at_risk(q("select * from v_customers_at_risk_by_value")),
    ]  # fmt: skip
    for chart in built:
        assert "$schema" in chart.to_dict()


def test_the_command_serves_on_localhost_only(tmp_path: Path) -> None:
    argv = streamlit_command(tmp_path, 8599)
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[-2:] == ["--lake", str(tmp_path.resolve())]
    on_athena = streamlit_command(None, 8599, where=Workgroup("wg", "gold_db", region="eu-west-1"))
    assert on_athena[on_athena.index("--server.address") + 1] == "127.0.0.1"
    assert on_athena[on_athena.index("--") + 1 :] == [
        "--aws", "--workgroup", "wg", "--database", "gold_db", "--region", "eu-west-1",
    ]  # fmt: skip
    result = CliRunner().invoke(app, ["dashboard", "--lake", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no lake at" in result.output


# --- end to end: streamlit + chromium -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def _serve(command: list[str], log_path: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve the dashboard with ``command`` until the generator is closed; yields its URL."""
    port = int(command[command.index("--server.port") + 1])
    log = open(log_path, "w")  # noqa: SIM115 - closed in teardown
    proc = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO,
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _get(f"{url}/_stcore/health") == "ok" or proc.poll() is not None,
                  60, "streamlit to start")  # fmt: skip
        assert proc.poll() is None, log_path.read_text()
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server we started, and only it
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def server(lake: Path) -> Iterator[str]:
    yield from _serve(streamlit_command(lake, _free_port()), lake.parent / "streamlit.log")


class DevTools:
    """Just enough of the Chrome DevTools Protocol: call a method, get its result."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.ws.write_message(
            json.dumps({"id": self.next_id, "method": method, "params": params})
        )
        while True:
            message = await asyncio.wait_for(self.ws.read_message(), 30)
            if message is None:
                raise ConnectionError("Chromium closed the DevTools connection")
            reply = json.loads(message)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))

    async def state(self) -> dict[str, Any]:
        result = await self.call("Runtime.evaluate", expression=STATE_JS, returnByValue=True)
        return dict(json.loads(result["result"]["value"]))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if CHROMIUM is None:
        pytest.skip(
            "chromium is not installed (scripts/setup.sh --test installs Debian's chromium)"
        )
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0", "--remote-allow-origins=*", "--window-size=1400,1000",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    active = profile / "DevToolsActivePort"
    try:
        _wait_for(lambda: active.exists() and active.read_text().strip(), 30, "Chromium's DevTools")
        port = active.read_text().split()[0]
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the browser we started, and only it
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def _visit(devtools_url: str, url: str, charts_expected: int, png: Path) -> dict[str, Any]:
    from tornado.websocket import websocket_connect

    targets = json.loads(_get(f"{devtools_url}/json/list") or "[]")
    page = next(t for t in targets if t["type"] == "page")
    ws = await websocket_connect(page["webSocketDebuggerUrl"], max_message_size=512 * 1024**2)
    try:
        tools = DevTools(ws)
        await tools.call("Emulation.setDeviceMetricsOverride", width=1400, height=1000,
                         deviceScaleFactor=1, mobile=False)  # fmt: skip
        await tools.call("Page.navigate", url=url)
        deadline = time.monotonic() + 45
        state: dict[str, Any] = {}
        settled = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            state = await tools.state()
            done = (
                (
                    state["drawn"] >= charts_expected
                    and not state["skeleton"]
                    and not state["running"]
                )
                or state["exceptions"]
                or state["errors"]
            )
            settled = settled + 1 if done else 0
            if settled >= 3:  # the same for 1.5 s: streamlit has finished the page
                break
        # the page scrolls inside stMain: grow the viewport to it for a whole-page screenshot
        height = min(max(int(state.get("height", 1000)) + 120, 1000), 6000)
        await tools.call("Emulation.setDeviceMetricsOverride", width=1400, height=height,
                         deviceScaleFactor=1, mobile=False)  # fmt: skip
        await asyncio.sleep(1.0)
        state = await tools.state()
        shot = await tools.call("Page.captureScreenshot", format="png")
        png.write_bytes(base64.b64decode(shot["data"]))
        return state
    finally:
        ws.close()


@pytest.mark.slow
def test_every_page_renders_its_charts_without_errors(browser: str, server: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, (path, heading, expected) in PAGES.items():
        png = ARTIFACTS / f"{name}.png"
        state = asyncio.run(_visit(browser, f"{server}/{path}", expected, png))
        assert state["exceptions"] == 0 and state["errors"] == [], (path, state)
        assert state["warnings"] == [] and state["dialogs"] == [], (path, state)
        assert state["heading"].startswith(heading), (path, state)
        assert state["charts"] >= expected and state["drawn"] >= expected, (path, state)
        assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- --aws: the same pages through Athena (moto's server on 127.0.0.1, queries run on DuckDB) -----

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
WORKGROUP = "medallion-dev-analysts"


class _Finished:
    """A query the local Athena has already run (moto_patches' LocalWork)."""

    def __init__(self, error: str = "") -> None:
        self.error_message = error
        self.state = "FAILED" if error else "SUCCEEDED"


class DuckDbAthena:
    """moto_patches' local hooks for Athena only: run each query on the lake's DuckDB catalog,
    as ``medallion run`` does, and hand its rows to moto as the query's result, so a client
    (awswrangler in the dashboard's process) reads them back through GetQueryResults and the
    result file moto writes to S3. Results are queued in start order; the test's one browser
    tab runs a page's queries one after another."""

    def __init__(self, lake: Path) -> None:
        self.lake = str(lake)
        self.queries: list[str] = []

    def start_query(self, query: str, database: str, workgroup: str) -> _Finished:
        from moto.athena.models import athena_backends
        from moto.core import DEFAULT_ACCOUNT_ID

        self.queries.append(query)
        try:
            frame = catalog.execute(self.lake, query, database=database or "gold")
        except QueryError as err:
            return _Finished(str(err))
        backend = athena_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        backend.query_results_queue.append(_athena_results(frame))
        return _Finished()

    def start_job_run(self, *args: Any) -> _Finished:
        return _Finished("no Glue job runs in this test")

    def start_crawler(self, *args: Any) -> _Finished:
        return _Finished("no crawls in this test")

    def publish(self, *args: Any) -> None:
        return None


def _athena_type(series: pd.Series) -> str:
    kind = series.dtype.kind
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "bigint"
    if kind == "f":
        return "double"
    if kind == "M":
        return "timestamp"
    first = series.dropna().iloc[0] if series.notna().any() else None
    if hasattr(first, "isoformat"):
        return "date"
    if first is not None and type(first).__name__ == "Decimal":
        return "decimal"
    return "varchar"


def _cell(value: Any, kind: str) -> dict[str, str]:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return {}
    if kind == "boolean":
        return {"VarCharValue": "true" if value else "false"}
    if kind in ("date", "timestamp"):
        return {"VarCharValue": str(value)[: 10 if kind == "date" else 23]}
    return {"VarCharValue": str(value)}


def _athena_results(frame: pd.DataFrame) -> Any:
    from moto.athena.models import QueryResults

    kinds = [_athena_type(frame[c]) for c in frame.columns]
    info = [{"Name": c, "Label": c, "Type": k, "Nullable": "UNKNOWN"}
            for c, k in zip(frame.columns, kinds, strict=True)]  # fmt: skip
    header = [{"Data": [{"VarCharValue": str(c)} for c in frame.columns]}]
    rows = [
        {"Data": [_cell(v, k) for v, k in zip(row, kinds, strict=True)]}
        for row in frame.itertuples(index=False)
    ]
    return QueryResults(rows=header + rows, column_info=info)


@pytest.fixture(scope="module")
def athena_endpoint(lake: Path) -> Iterator[tuple[str, DuckDbAthena]]:
    moto_server = pytest.importorskip("moto.server")
    import boto3

    from medallion.local import moto_patches

    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    hooks = DuckDbAthena(lake)
    moto_patches.install(hooks)  # type: ignore[arg-type]
    url = f"http://127.0.0.1:{port}"
    try:
        clients = {"endpoint_url": url, "region_name": "us-east-1"}
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        boto3.client("s3", **clients, **keys).create_bucket(Bucket="athena-results")
        boto3.client("athena", **clients, **keys).create_work_group(
            Name=WORKGROUP,
            Configuration={
                "ResultConfiguration": {"OutputLocation": "s3://athena-results/results/"},
                "EnforceWorkGroupConfiguration": True,
            },
        )
        yield url, hooks
    finally:
        moto_patches.uninstall()
        server.stop()


@pytest.fixture(scope="module")
def aws_server(lake: Path, athena_endpoint: tuple[str, DuckDbAthena]) -> Iterator[str]:
    url, _ = athena_endpoint
    where = Workgroup(WORKGROUP, "gold", region="us-east-1", endpoint_url=url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | AWS_ENV
    command = streamlit_command(None, _free_port(), where=where)
    yield from _serve(command, lake.parent / "streamlit-aws.log", env)


@pytest.mark.slow
def test_the_value_page_reads_athena_caches_and_shows_the_scan(
    browser: str, aws_server: str, athena_endpoint: tuple[str, DuckDbAthena]
) -> None:
    _, hooks = athena_endpoint
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name in ("value", "segments"):
        path, heading, expected = PAGES[name]
        png = ARTIFACTS / f"aws-{name}.png"
        state = asyncio.run(_visit(browser, f"{aws_server}/{path}", expected, png))
        assert state["exceptions"] == 0 and state["errors"] == [], (path, state)
        assert state["warnings"] == [] and state["dialogs"] == [], (path, state)
        assert state["heading"].startswith(heading), (path, state)
        assert state["drawn"] >= expected, (path, state)
        [scan] = [c for c in state["captions"] if c.startswith("Athena:")]
        match = re.match(r"Athena: (\d+) quer(?:y|ies) run for this page, .*? \$([\d.]+) at", scan)
        assert match and "0 answered from the cache" in scan, scan
        # moto reports no bytes scanned: each query costs Athena's 10 MB minimum at $5/TB.
        assert float(match[2]) == round(int(match[1]) * 10 * 1024**2 / 1024**4 * 5, 6), scan
        assert any("Athena database gold" in c for c in state["captions"]), state["captions"]
    ran = len(hooks.queries)
    assert any("v_customer_value_segments" in q for q in hooks.queries)
    # A browser refresh of the page scans nothing: every answer comes from the server's cache.
    path, _, expected = PAGES["value"]
    state = asyncio.run(
        _visit(browser, f"{aws_server}/{path}", expected, ARTIFACTS / "aws-again.png")
    )
    assert len(hooks.queries) == ran, hooks.queries[ran:]
    [scan] = [c for c in state["captions"] if c.startswith("Athena:")]
    assert scan.startswith("Athena: 0 queries run for this page, 0 B scanned"), scan
    assert state["drawn"] >= expected and state["errors"] == [], state
