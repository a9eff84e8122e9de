"""The entry point: ``generate()`` writes the five datasets and the manifest."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from medallion.sample.common import (
    DATASETS,
    FILES,
    HEADERS,
    MANIFEST_NAME,
    MAX_ORDER_LINES,
    ProgressCallback,
)
from medallion.sample.customers import _make_customers, _render_customers
from medallion.sample.inventory import _render_inventory
from medallion.sample.manifest import FileInfo, Manifest, Plan, _Output
from medallion.sample.order_lines import _make_orders, _render_order_lines
from medallion.sample.products import _make_products, _render_products
from medallion.sample.reviews import _render_reviews


def _write(path: Path, header: str | None, lines: Sequence[str]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        if header is not None:
            f.write(header + "\n")
        f.write("\n".join(lines))
        f.write("\n")
    return path.stat().st_size


def generate(
    out_dir: str | Path,
    order_lines: int,
    seed: int = 42,
    *,
    defects: bool = True,
    progress: ProgressCallback | None = None,
) -> Manifest:
    """Write the five source datasets in the landing layout and a manifest of injected defects.

    Parameters
    ----------
    out_dir
        Directory to write ``<dataset>/<file>`` and ``_generator_manifest.json`` into; created if
        missing. Existing files of the same names are overwritten, nothing else is touched.
    order_lines
        Data lines in ``order_lines.csv`` (defective lines included); the other datasets scale
        with it (see ``Plan.for_order_lines``).
    seed
        Seed for every random draw: the same arguments give the same bytes.
    defects
        Inject the documented defects (only when ``order_lines >= 200``).
    progress
        Called as ``progress(stage, fraction_done)`` while generating.

    Returns
    -------
    Manifest
        Files written, the counts silver should report, and the injected defects.

    Raises
    ------
    ValueError
        If ``order_lines`` is below 1 or above 10,000,000 (invoice numbers have 6 digits).
    """
    if not 1 <= order_lines <= MAX_ORDER_LINES:
        raise ValueError(f"order_lines must be between 1 and {MAX_ORDER_LINES}, got {order_lines}")

    def report(stage: str, done: float) -> None:
        if progress is not None:
            progress(stage, done)

    plan = Plan.for_order_lines(order_lines, defects)
    counts = plan.order_line_defects()
    streams = np.random.SeedSequence(seed).spawn(6)
    rng = {
        name: np.random.default_rng(s)
        for name, s in zip(
            ("customers", "products", "orders", "order_defects", "inventory", "reviews"),
            streams,
            strict=True,
        )
    }
    report("customers and products", 0.0)
    customers = _make_customers(plan.customers, rng["customers"])
    products = _make_products(plan.products, counts["unknown_product"], rng["products"])
    report("invoices", 0.05)
    orders = _make_orders(
        order_lines - counts["exact_duplicate"], customers, products, rng["orders"]
    )
    report("order lines", 0.3)
    outputs = {
        "order_lines": _render_order_lines(
            orders, customers, products, counts, rng["order_defects"]
        )
    }
    report("customers", 0.6)
    outputs["customers"] = _render_customers(customers, orders, plan, rng["customers"])
    outputs["products"] = _render_products(products, orders, plan, rng["products"])
    report("inventory", 0.65)
    outputs["inventory"] = _render_inventory(products, orders, plan, rng["inventory"])
    report("reviews", 0.75)
    outputs["reviews"] = _render_reviews(customers, products, orders, plan, rng["reviews"])
    report("writing", 0.8)
    return _write_all(Path(out_dir), seed, order_lines, outputs, report)


def _write_all(
    out: Path,
    seed: int,
    order_lines: int,
    outputs: dict[str, _Output],
    report: Callable[[str, float], None],
) -> Manifest:
    files = {}
    for k, name in enumerate(DATASETS):
        size = _write(out / FILES[name], HEADERS.get(name), outputs[name].lines)
        files[name] = FileInfo(FILES[name], len(outputs[name].lines), size)
        report(f"writing {name}", 0.8 + 0.2 * (k + 1) / len(DATASETS))
    manifest = Manifest(
        seed=seed,
        order_lines_requested=order_lines,
        files=files,
        expected={name: outputs[name].expected() for name in DATASETS},
        injected={name: outputs[name].injected for name in DATASETS},
        defect_lines={name: outputs[name].defect_lines for name in DATASETS},
    )
    (out / MANIFEST_NAME).write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", "utf-8")
    report("done", 1.0)
    return manifest
