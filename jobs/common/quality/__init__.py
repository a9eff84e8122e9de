"""The quality engine: each rule type in one place, as pure functions of DataFrames.

``row_rules`` holds the contract's row rule types (a column true where a row fails), ``implicit``
the rules every dataset has (well formed, parseable), ``dataset_rules`` the dataset rule types
(an aggregate and a verdict), ``schema_drift`` the source-columns rule, ``verdicts`` what a rule's
result is and records, and ``engine`` puts them together for a batch. Adding a rule type touches
``row_rules`` or ``dataset_rules`` and the contract schema (``jobs.common.contracts``).
"""

from jobs.common.quality.checks import RowCheck, ref_flag
from jobs.common.quality.dataset_rules import DATASET_RULES
from jobs.common.quality.engine import (
    apply_row_checks,
    batch_aggregates,
    batch_stats,
    clean_rows,
    distinct_aggregates,
    row_checks,
    verdicts,
)
from jobs.common.quality.implicit import (
    parse_rule_id,
    parseable_check,
    unparsed_flags,
    unparsed_name,
    well_formed_check,
    well_formed_rule_id,
)
from jobs.common.quality.row_rules import ROW_RULES, row_rule_check
from jobs.common.quality.schema_drift import (
    SchemaDrift,
    schema_drift,
    schema_drift_rule_id,
    schema_drift_verdict,
)
from jobs.common.quality.verdicts import (
    Verdict,
    gate_failures,
    ratio_verdict,
    row_verdict,
    skipped_verdict,
)

__all__ = [
    "DATASET_RULES",
    "ROW_RULES",
    "RowCheck",
    "SchemaDrift",
    "Verdict",
    "apply_row_checks",
    "batch_aggregates",
    "batch_stats",
    "clean_rows",
    "distinct_aggregates",
    "gate_failures",
    "parse_rule_id",
    "parseable_check",
    "ratio_verdict",
    "ref_flag",
    "row_checks",
    "row_rule_check",
    "row_verdict",
    "schema_drift",
    "schema_drift_rule_id",
    "schema_drift_verdict",
    "skipped_verdict",
    "unparsed_flags",
    "unparsed_name",
    "verdicts",
    "well_formed_check",
    "well_formed_rule_id",
]
