"""The crawlers skip what is not a table's data: markers, uncommitted and hidden output."""

from __future__ import annotations

import pytest
from wcmatch import glob

from medallion.aws.stackmodel import model_for

# Glue's exclude patterns are globs where `**` crosses folders and a leading dot is an ordinary
# character (wcmatch's GLOBSTAR and DOTGLOB); paths are relative to the target's path.
FLAGS = glob.GLOBSTAR | glob.DOTGLOB


def exclusions(layer: str) -> list[str]:
    model = model_for("dev")
    [target] = model.properties(f"{layer.title()}Crawler")["Targets"]["S3Targets"]
    return list(target["Exclusions"])


@pytest.mark.parametrize("layer", ["bronze", "silver", "gold"])
@pytest.mark.parametrize(
    "path",
    [
        "order_lines/_SUCCESS",
        "order_lines/_temporary/0/_temporary/attempt_1/part-00000.snappy.parquet",
        "order_lines/.spark-staging-3f2a/year=2011/month=12/day=9/part-00000.snappy.parquet",
        "order_lines/year=2011/month=12/day=9/.part-00000.snappy.parquet.crc",
    ],
)
def test_a_crawl_skips_markers_and_uncommitted_output(layer: str, path: str) -> None:
    assert glob.globmatch(path, exclusions(layer), flags=FLAGS)


@pytest.mark.parametrize(
    "path",
    [
        "order_lines/year=2011/month=12/day=9/part-00000-abc.snappy.parquet",
        "sales_daily/part-00000-abc.snappy.parquet",
        "order_lines/ingest_date=2026-12-01/run_id=r1/part-00000.snappy.parquet",
    ],
)
def test_a_crawl_reads_every_data_file(path: str) -> None:
    assert not glob.globmatch(path, exclusions("silver"), flags=FLAGS)
