"""The incremental benchmark's choice of figures when it repeats the delivery (no run here)."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import incremental_benchmark  # noqa: E402
from incremental_benchmark import RunFigures, median_run  # noqa: E402


def runs(*seconds: float) -> list[RunFigures]:
    return [RunFigures(seconds=s, peak_gib=float(i)) for i, s in enumerate(seconds)]


@pytest.mark.parametrize(
    "seconds", [(42.0,), (44.7, 36.1, 39.8), (35.0, 51.0, 38.0, 40.0, 39.0), (36.0, 41.0)]
)
def test_the_median_delivery_is_reported_whole(seconds: tuple[float, ...]) -> None:
    done = runs(*seconds)
    chosen = median_run(done)
    assert chosen in done  # one real run's figures, its memory and states with its time
    assert chosen.seconds == statistics.median_low(seconds)


def test_no_run_has_no_median() -> None:
    with pytest.raises(ValueError):
        median_run([])


def test_repeat_below_one_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        incremental_benchmark.main(["--sizes", "1000", "--workdir", str(tmp_path), "--repeat", "0"])
    assert stopped.value.code == 2
    assert "--repeat must be at least 1" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def history_result(lines: int, read: dict[str, int], shape: str = "years") -> dict[str, object]:
    gold = {"rows_read_by_input": read}
    return {"order_lines": lines, "history": shape, "incremental": {"gold": gold}}


def test_rows_read_growth_compares_histories_of_the_same_daily_volume(
    capsys: pytest.CaptureFixture[str],
) -> None:
    per_year = incremental_benchmark.YEAR_LINES
    incremental_benchmark.rows_read_growth(
        [
            # One year of fewer lines a day: not compared.
            history_result(per_year // 5, {"silver.order_lines": 10, "gold.customer_activity": 5}),
            history_result(
                2 * per_year,
                {"silver.order_lines": 600, "silver.reviews": 400, "gold.customer_activity": 2_000},
            ),
            history_result(
                6 * per_year,
                {"silver.order_lines": 600, "silver.reviews": 500, "gold.customer_activity": 6_000},
            ),
        ]
    )
    said = capsys.readouterr().out.splitlines()
    assert said == [
        "gold's rows read from silver: 1,000 at 1,000,000, 1,100 at 3,000,000 "
        "(1.10 x, the history 3.0 x)",
        "gold's rows read from its own tables: 2,000 at 1,000,000, 6,000 at 3,000,000 "
        "(3.00 x, the history 3.0 x)",
    ]


def test_rows_read_growth_says_nothing_of_dense_histories(
    capsys: pytest.CaptureFixture[str],
) -> None:
    read = {"silver.order_lines": 1}
    incremental_benchmark.rows_read_growth(
        [history_result(10**6, read, "dense"), history_result(3 * 10**6, read, "dense")]
    )
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("sizes", "said"),
    [
        ("750000", "750,000 is not a multiple"),
        ("1000000,1250000", "1,250,000 is not a multiple"),
        ("1e6", "whole numbers of order lines"),
        (",", "at least one size"),
    ],
)
def test_sizes_a_history_cannot_have_are_refused_before_anything_runs(
    sizes: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        incremental_benchmark.main(["--sizes", sizes, "--workdir", str(tmp_path)])
    assert stopped.value.code == 2
    assert said in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
