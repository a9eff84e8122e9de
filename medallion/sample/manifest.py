"""A sample's manifest (the files written, what silver must report) and its plan of sizes."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from medallion.sample.common import MANIFEST_NAME, MIN_ORDER_LINES_FOR_DEFECTS

# fmt: on


@dataclass(frozen=True)
class FileInfo:
    """One written file: its path under the output directory, data lines and size."""

    path: str
    lines: int
    bytes: int


@dataclass(frozen=True)
class Expected:
    """What the silver job should report for a dataset: rows_in = silver + quarantined + dups."""

    rows_in: int
    rows_silver: int
    duplicates: int
    quarantined: int
    flagged: int
    flagged_unknown_product: int


@dataclass(frozen=True)
class Manifest:
    """What was generated and which defects were injected, at exact counts.

    ``defect_lines`` gives, per dataset and defect, the 1-based line numbers in the file (the CSV
    header is line 1) of the rows silver removes, quarantines or flags; for a re-sent record that
    is the older, superseded line.
    """

    seed: int
    order_lines_requested: int
    files: dict[str, FileInfo]
    expected: dict[str, Expected]
    injected: dict[str, dict[str, int]]
    defect_lines: dict[str, dict[str, list[int]]]

    def to_dict(self) -> dict[str, Any]:
        """The manifest as plain JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """Rebuild a manifest from :meth:`to_dict` output."""
        return cls(
            seed=data["seed"],
            order_lines_requested=data["order_lines_requested"],
            files={k: FileInfo(**v) for k, v in data["files"].items()},
            expected={k: Expected(**v) for k, v in data["expected"].items()},
            injected=data["injected"],
            defect_lines=data["defect_lines"],
        )

    @classmethod
    def read(cls, out_dir: str | Path) -> Manifest:
        """Read ``_generator_manifest.json`` from a generated directory."""
        return cls.from_dict(json.loads((Path(out_dir) / MANIFEST_NAME).read_text("utf-8")))


@dataclass
class _Output:
    """One dataset's rendered lines (without header) and its defect bookkeeping."""

    lines: list[str]
    injected: dict[str, int]
    defect_lines: dict[str, list[int]]
    duplicates: int
    quarantined: int
    flagged_unknown_product: int = 0

    def expected(self) -> Expected:
        rows = len(self.lines)
        return Expected(
            rows_in=rows,
            rows_silver=rows - self.duplicates - self.quarantined,
            duplicates=self.duplicates,
            quarantined=self.quarantined,
            flagged=self.flagged_unknown_product,
            flagged_unknown_product=self.flagged_unknown_product,
        )


@dataclass(frozen=True)
class Plan:
    """How many rows of each dataset, and whether defects are injected."""

    order_lines: int
    customers: int
    products: int
    reviews: int
    defects: bool

    @classmethod
    def for_order_lines(cls, order_lines: int, defects: bool = True) -> Plan:
        """Scale the other datasets with the number of order lines."""
        return cls(
            order_lines=order_lines,
            customers=max(50, order_lines // 100),
            products=max(40, order_lines // 250),
            reviews=max(50, order_lines // 20),
            defects=defects and order_lines >= MIN_ORDER_LINES_FOR_DEFECTS,
        )

    def count(self, rows: int, per: int) -> int:
        """One defect per ``per`` rows, at least one, or none when defects are off."""
        return max(1, rows // per) if self.defects else 0

    def order_line_defects(self) -> dict[str, int]:
        n = self.order_lines
        return {
            "exact_duplicate": self.count(n, 250),
            "unparseable_number": self.count(n, 500),
            "unparseable_date": self.count(n, 1000),
            "too_many_fields": self.count(n, 1000),
            "too_few_fields": self.count(n, 1000),
            "negative_unit_price": self.count(n, 2000),
            "unknown_product": self.count(n, 500),
        }
