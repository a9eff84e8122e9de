"""A rule's result for one run (its verdict), how each kind of rule reaches one, and the gate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.common.contracts import Rule
from jobs.common.quality.checks import RowCheck
from jobs.common.records import make_record


@dataclass(frozen=True)
class Verdict:
    """One rule's result for one run: what was checked, what failed, and the status."""

    rule_id: str
    rule_type: str
    scope: str
    severity: str
    target: str
    checked: int
    failed: int
    threshold: float | None
    status: str
    message: str

    @property
    def fail_ratio(self) -> float:
        return self.failed / self.checked if self.checked else 0.0

    def record(self, run_id: str, dataset: str, evaluated_at: str) -> dict[str, Any]:
        """The ``quality_results`` record (``jobs.common.records``)."""
        return make_record(
            "quality_results",
            {
                "run_id": run_id,
                "dataset": dataset,
                "rule_id": self.rule_id,
                "rule_type": self.rule_type,
                "scope": self.scope,
                "severity": self.severity,
                "target": self.target,
                "checked": self.checked,
                "failed": self.failed,
                "fail_ratio": round(self.fail_ratio, 6),
                "threshold": self.threshold,
                "status": self.status,
                "message": self.message,
                "evaluated_at": evaluated_at,
            },
        )


def status(ok: bool, severity: str) -> str:
    """A rule that holds passes; one that does not warns or fails by its severity."""
    return "pass" if ok else ("warn" if severity == "warn" else "fail")


def row_verdict(check: RowCheck, scope: str, checked: int, failed: int) -> Verdict:
    """A row rule passes when no row fails it; otherwise it quarantined or flagged rows."""
    action = "quarantined" if check.severity == "error" else "flagged"
    message = f"{failed} of {checked} rows {action}" if failed else f"all {checked} rows pass"
    return Verdict(
        check.rule_id, check.rule_type, scope, check.severity, check.target, checked, failed,
        None, status(failed == 0, check.severity), message,
    )  # fmt: skip


def ratio_verdict(rule: Rule, checked: int, failed: int, what: str) -> Verdict:
    """A ratio rule holds while failed / checked is at most ``max_fail_ratio`` (at it passes)."""
    limit = rule.max_fail_ratio or 0.0
    ratio = failed / checked if checked else 0.0
    ok = ratio <= limit
    message = (
        f"{what}: {failed} of {checked} rows ({ratio:.2%}), "
        f"{'within' if ok else 'over'} the limit of {limit:.2%}"
    )
    return Verdict(
        rule.id, rule.type, "dataset", rule.severity, rule.target, checked, failed, limit,
        status(ok, rule.severity), message,
    )  # fmt: skip


def skipped_verdict(rule: Rule, why: str) -> Verdict:
    """A rule that could not run (its reference is absent): recorded, never failing."""
    return Verdict(
        rule.id, rule.type, rule.scope, rule.severity, rule.target, 0, 0, rule.max_fail_ratio,
        "skipped", why,
    )  # fmt: skip


def gate_failures(verdicts: list[Verdict]) -> list[str]:
    """Error-severity dataset rules that failed, each with by how much, for the job's error."""
    return [
        f"{v.rule_id} ({v.message})"
        for v in verdicts
        if v.scope == "dataset" and v.status == "fail"
    ]
