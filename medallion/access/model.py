"""One access: a principal, an IAM action, a resource and condition context, stack-independent."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHIPPED = Path(__file__).with_name("recorded_access.json")

# The principals checked, by their logical ids in the template.
JOB_ROLES = {"bronze": "BronzeJobRole", "silver": "SilverJobRole", "gold": "GoldJobRole"}
CRAWLER_ROLE = "CrawlerRole"
STATE_MACHINE_ROLE = "PipelineRole"
ANALYSTS = "AnalystsPolicy"
PRINCIPALS = (*JOB_ROLES.values(), CRAWLER_ROLE, STATE_MACHINE_ROLE, ANALYSTS)

_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True, order=True)
class Access:
    """One request a principal makes, with its resource as a template over the stack's names.

    ``resource`` and the context values hold ``${LogicalId}`` (what ``Ref`` gives for the
    resource: a bucket's name, a secret's ARN, a key's id) and ``${AWS::Region}``,
    ``${AWS::AccountId}``, ``${AWS::Partition}``, so the same record resolves against the
    template's model and against a deployed stack.

    Parameters
    ----------
    principal
        The role's or managed policy's logical id (:data:`PRINCIPALS`).
    action
        The IAM action, ``service:Action``.
    resource
        The resource ARN template, or ``*`` for actions AWS does not scope to a resource.
    context
        Condition keys and their value templates, as ``((key, value), ...)``.
    source
        Where the access was seen: ``inotify``, ``api``, ``definition``, ``crawler``, ``athena``.
    """

    principal: str
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    source: str = field(default="", compare=False)

    def resolve(self, ref: Callable[[str], str]) -> ResolvedAccess:
        """The access with its placeholders replaced by ``ref(name)``."""

        def sub(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: ref(m.group(1)), text)

        return ResolvedAccess(
            self.principal,
            self.action,
            sub(self.resource),
            tuple((k, sub(v)) for k, v in self.context),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
        }
        if self.context:
            out["context"] = dict(self.context)
        if self.source:
            out["source"] = self.source
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Access:
        return cls(
            data["principal"],
            data["action"],
            data["resource"],
            tuple(sorted(data.get("context", {}).items())),
            data.get("source", ""),
        )


@dataclass(frozen=True, order=True)
class ResolvedAccess:
    """An access with real names: what IAM evaluates."""

    principal: str
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        extra = "".join(f" [{k}={v}]" for k, v in self.context)
        return f"{self.principal}: {self.action} on {self.resource}{extra}"


def save(accesses: Iterable[Access], path: Path = SHIPPED) -> None:
    """Write accesses as sorted JSON (one file the package ships)."""
    rows = [a.to_json() for a in sorted(set(accesses))]
    path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


def load(path: Path = SHIPPED) -> list[Access]:
    """The accesses of a file written by :func:`save`."""
    return [Access.from_json(row) for row in json.loads(path.read_text(encoding="utf-8"))]
