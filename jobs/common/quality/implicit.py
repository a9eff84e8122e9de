"""The rules every dataset has without naming them: each line well formed, each value parseable.

Both are error-severity row rules: a malformed line (wrong field count, invalid JSON; bronze
keeps it whole in ``_corrupt_record``) or a typed value that does not parse is quarantined.
A value that does not parse is reported by its parse rule alone (``row_rules`` leaves it out).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.common.contracts import Column as ContractColumn
from jobs.common.contracts import Contract
from jobs.common.quality.checks import RowCheck


def well_formed_rule_id(contract: Contract) -> str:
    return f"{contract.dataset}_well_formed"


def parse_rule_id(contract: Contract, column: ContractColumn) -> str:
    return f"{contract.dataset}_{column.name}_parseable"


def unparsed_name(column: str) -> str:
    """The flag column, true where a typed column's value is present but did not parse."""
    return f"_unparsed_{column}"


def unparsed_flags(contract: Contract) -> dict[str, Column]:
    """The could-not-parse flag of each typed (non-string) column, by silver name."""
    return {c.name: F.col(unparsed_name(c.name)) for c in contract.typed_columns if not c.is_string}


def well_formed_check(contract: Contract) -> RowCheck:
    """Fails a line bronze could not split into the header's fields or parse as JSON."""
    return RowCheck(
        well_formed_rule_id(contract), "well_formed", "error", "_corrupt_record",
        F.col("_corrupt_record").isNotNull(),
        F.concat(F.lit("malformed line: "), F.coalesce("_corrupt_reason", F.lit("?"))),
    )  # fmt: skip


def parseable_check(contract: Contract, column: ContractColumn, raw: Column) -> RowCheck:
    """Fails a present value that is not of the column's type (in any of its formats).

    ``raw`` is the source value as the reason shows it (``<pii>`` for a PII column).
    """
    expected = f"{column.type} ({column.format})" if column.format else column.type
    return RowCheck(
        parse_rule_id(contract, column), "parseable", "error", column.name,
        F.col(unparsed_name(column.name)),
        F.format_string(f"{column.source} '%s' is not a valid {expected}", raw),
    )  # fmt: skip
