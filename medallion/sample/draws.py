"""What is drawn before any file is written: the customers, products and orders as arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from medallion.sample.common import IntArray


@dataclass
class _Orders:
    """Clean order lines as arrays, one entry per line; invoices as arrays, one per invoice."""

    inv_day: IntArray
    inv_minute: IntArray
    inv_cancel: npt.NDArray[np.bool_]
    inv_customer: IntArray  # -1 for a guest invoice
    inv_country: IntArray
    line_inv: IntArray
    line_item: IntArray  # product index, or n_products + non-product index
    line_qty: IntArray
    line_cents: IntArray
