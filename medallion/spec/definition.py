"""Renders statemachine/pipeline.asl.json: fills its ${Placeholders} and adds one Task per view."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "statemachine" / "pipeline.asl.json"

#: Every placeholder of the template, with what it stands for (statemachine/README.md says more).
PLACEHOLDERS: dict[str, str] = {
    "BronzeJobName": "Glue job running jobs/bronze/job.py",
    "SilverJobName": "Glue job running jobs/silver/job.py",
    "GoldJobName": "Glue job running jobs/gold/job.py",
    "BronzeCrawlerName": "Glue crawler over <lake>/bronze/",
    "SilverCrawlerName": "Glue crawler over <lake>/silver/",
    "GoldCrawlerName": "Glue crawler over <lake>/gold/",
    "AlertTopicArn": "SNS topic the failure alert is published to",
    "AthenaWorkGroup": "Athena workgroup the views are created in",
    "GoldDatabase": "Glue database the views live in (the query context)",
    "Environment": "environment name shown in the alert (dev, prod, local)",
    "LakeRoot": "--lake_root of every job: s3://bucket or a local directory",
    "LakeBucket": "the lake's bucket, whose _meta/notices/ the state machine reads (locally: "
    "a name the local services answer from the lake directory)",
    "ContractsRoot": "--contracts_root of the bronze and silver jobs",
    "LandingRoot": "--landing_root of the bronze job (default <LakeRoot>/landing)",
    "PiiSaltSecretId": "--pii_salt_secret of the silver job (default empty: local salt)",
    "CrawlerPollSeconds": "seconds between two getCrawler polls (integer, default 30)",
    "CrawlerMaxPolls": "poll budget shared by the three crawlers (integer, default 60)",
    "ExecutionTimeoutSeconds": "TimeoutSeconds of the whole execution (integer, default 14400)",
}

#: Placeholders that stand for a whole JSON number, not text inside a string.
INTEGER_PLACEHOLDERS = frozenset(
    {"CrawlerPollSeconds", "CrawlerMaxPolls", "ExecutionTimeoutSeconds"}
)

DEFAULTS: dict[str, str] = {
    "PiiSaltSecretId": "",
    "CrawlerPollSeconds": "30",
    "CrawlerMaxPolls": "60",
    "ExecutionTimeoutSeconds": "14400",
}

#: The template state after which render_definition chains the view Tasks.
VIEWS_ANCHOR = "Views"

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
# A value may hold ${Tokens} left for CloudFormation's DefinitionSubstitutions or Fn::Sub.
_TOKEN = re.compile(r"\$\{[A-Za-z0-9:.]+\}")
# Values land inside intrinsic-function string literals, where these characters are syntax.
_FORBIDDEN = re.compile(r"['{}\\\n]")

ATHENA_RETRY: list[dict[str, Any]] = [
    {
        "ErrorEquals": [
            "Athena.TooManyRequestsException",
            "Athena.InternalServerException",
            "Athena.ThrottlingException",
        ],
        "IntervalSeconds": 5,
        "MaxAttempts": 4,
        "BackoffRate": 2.0,
    }
]


class DefinitionError(ValueError):
    """The substitutions or views cannot make a valid definition."""


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Read the ASL template with its placeholders still in it.

    Parameters
    ----------
    path
        The template file, ``statemachine/pipeline.asl.json`` by default.

    Returns
    -------
    dict
        The parsed template.
    """
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def resolve_substitutions(substitutions: Mapping[str, str]) -> dict[str, str]:
    """Check the substitutions and fill the defaults.

    Parameters
    ----------
    substitutions
        Placeholder name (without ``${}``) to value.

    Returns
    -------
    dict
        Every placeholder of :data:`PLACEHOLDERS` with its value.

    Raises
    ------
    DefinitionError
        On an unknown or missing placeholder, a non-integer number, or a value with characters
        that would break an intrinsic function's string literal.
    """
    unknown = sorted(set(substitutions) - set(PLACEHOLDERS))
    if unknown:
        raise DefinitionError(f"unknown placeholder(s): {', '.join(unknown)}")
    values = {**DEFAULTS, **{k: str(v) for k, v in substitutions.items()}}
    if "LandingRoot" not in values and "LakeRoot" in values:
        values["LandingRoot"] = values["LakeRoot"].rstrip("/") + "/landing"
    missing = sorted(set(PLACEHOLDERS) - set(values))
    if missing:
        raise DefinitionError(f"missing placeholder(s): {', '.join(missing)}")
    for name, value in values.items():
        if _TOKEN.fullmatch(value):
            continue
        if _FORBIDDEN.search(_TOKEN.sub("", value)):
            raise DefinitionError(f"{name}={value!r}: quotes, braces, backslashes not allowed")
        if name in INTEGER_PLACEHOLDERS and not value.isdigit():
            raise DefinitionError(f"{name}={value!r} must be a whole number")
    return values


#: The Parallel state that creates the views, and the states that name a failed view for the alert.
VIEWS_STATE = "Create views"
#: The error a view's branch fails with; its Cause holds the view's state name and own error.
VIEW_FAILED = "Medallion.ViewFailed"
_NAMED_FAILURE = "View failure named?"


def _view_branch_names(state: str) -> tuple[str, str, str]:
    """A view's branch's states: its Task, the Pass naming it, the Fail state (the longest)."""
    return state, f"{state} failed", f"{state} stops the views"


def _view_branch(state: str, sql: str) -> dict[str, Any]:
    """One branch of :data:`VIEWS_STATE`: the view's Athena Task, and on its failure a Fail state
    whose Cause is ``{"state": <the Task's name>, "error": <its error>}`` as JSON text.

    A branch's own states are invisible to the Parallel state's Catch, which gets only the
    branch's Error and Cause: carrying the name in the Cause lets the alert say which view failed.
    """
    failed, stopped = _view_branch_names(state)[1:]
    return {
        "StartAt": state,
        "States": {
            state: {
                "Type": "Task",
                "Resource": "arn:aws:states:::athena:startQueryExecution.sync",
                "Parameters": {
                    "QueryString": sql,
                    "WorkGroup": "${AthenaWorkGroup}",
                    "QueryExecutionContext": {"Database": "${GoldDatabase}"},
                },
                "ResultPath": None,
                "Retry": ATHENA_RETRY,
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": failed}],
                "End": True,
            },
            failed: {
                "Type": "Pass",
                "Comment": "Names the view for the alert; a caught error always has an Error.",
                "Parameters": {"state": state, "error.$": "$.error"},
                "ResultPath": "$.failure",
                "Next": stopped,
            },
            # CausePath: https://docs.aws.amazon.com/step-functions/latest/dg/state-fail.html.
            # A Fail state may not raise an error named States.* (the caught error mostly is),
            # so the error is one of ours, and the caught one travels in the Cause.
            stopped: {
                "Type": "Fail",
                "Error": VIEW_FAILED,
                "CausePath": "States.JsonToString($.failure)",
            },
        },
    }


def _view_failure_states() -> dict[str, dict[str, Any]]:
    """After the views' Parallel state fails: the failed view's name and its own error back in
    ``$.failed_state`` and ``$.error``, from the Cause its branch failed with."""
    return {
        _NAMED_FAILURE: {
            "Type": "Choice",
            "Comment": "A view's branch fails with its name in the Cause; anything else is the "
            "Parallel state's own failure.",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.error.Error", "StringEquals": VIEW_FAILED},
                        {"Variable": "$.error.Cause", "IsString": True},
                    ],
                    "Next": "Read failed view",
                }
            ],
            "Default": f"{VIEWS_STATE} failed",
        },
        "Read failed view": {
            "Type": "Pass",
            "Parameters": {"failure.$": "States.StringToJson($.error.Cause)"},
            "ResultPath": "$.view",
            "Next": "Name failed view",
        },
        "Name failed view": {
            "Type": "Pass",
            "InputPath": "$.view.failure.state",
            "ResultPath": "$.failed_state",
            "Next": "Keep failed view's error",
        },
        "Keep failed view's error": {
            "Type": "Pass",
            "InputPath": "$.view.failure.error",
            "ResultPath": "$.error",
            "Next": "Describe failure",
        },
        f"{VIEWS_STATE} failed": {
            "Type": "Pass",
            "Comment": "Remembers which state failed, for the alert.",
            "Result": VIEWS_STATE,
            "ResultPath": "$.failed_state",
            "Next": "Describe failure",
        },
    }


def view_states(views: Sequence[tuple[str, str]], next_state: str) -> dict[str, dict[str, Any]]:
    """The views, created side by side: one Parallel state with an Athena Task
    (``startQueryExecution.sync``) per view, as they do not read each other, and the states
    that turn a failed branch back into the failed view's name and its own error for the alert.

    Parameters
    ----------
    views
        ``(view_name, "CREATE OR REPLACE VIEW ...")`` pairs.
    next_state
        Where the Parallel state goes when every view was created.

    Returns
    -------
    dict
        State name to state: the Parallel state first, then the failure's states.
    """
    names = [f"Create view {name}" for name, _ in views]
    if len(set(names)) != len(names):
        raise DefinitionError("view names must be unique")
    for state in names:
        # Step Functions' limit on a state name; a view's longest is its branch's Fail state.
        if len(longest := _view_branch_names(state)[-1]) > 80:
            raise DefinitionError(f"state name {longest!r} is longer than 80 characters")
    return {
        VIEWS_STATE: {
            "Type": "Parallel",
            "Comment": "The views do not read each other: Athena creates them at once, and the "
            "first that fails stops the others (CREATE OR REPLACE: the next run makes them all).",
            "Branches": [
                _view_branch(state, sql) for state, (_, sql) in zip(names, views, strict=True)
            ],
            "ResultPath": None,
            "Catch": [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": _NAMED_FAILURE}
            ],
            "Next": next_state,
        },
        **_view_failure_states(),
    }


def _substitute(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _substitute(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute(item, values) for item in node]
    if not isinstance(node, str):
        return node
    whole = _PLACEHOLDER.fullmatch(node)
    if whole and whole.group(1) in INTEGER_PLACEHOLDERS and values[whole.group(1)].isdigit():
        return int(values[whole.group(1)])

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise DefinitionError(f"template uses undeclared placeholder ${{{name}}}")
        return values[name]

    return _PLACEHOLDER.sub(replace, node)


def render_definition(substitutions: Mapping[str, str], views: Sequence[tuple[str, str]]) -> str:
    """The state machine definition AWS and the local engine run, as JSON text.

    Pure: the same arguments always give the same text, so the CloudFormation template that embeds
    it can be snapshot-tested.

    Parameters
    ----------
    substitutions
        Placeholder name (without ``${}``) to value; see :data:`PLACEHOLDERS`. Integer
        placeholders are written as JSON numbers.
    views
        ``(view_name, sql)`` pairs from ``medallion.spec.views.view_statements()``.

    Returns
    -------
    str
        The definition, JSON with sorted keys.
    """
    values = resolve_substitutions(substitutions)
    template = load_template()
    states: dict[str, Any] = template["States"]
    anchor = states[VIEWS_ANCHOR]
    if views:
        added = view_states(views, anchor["Next"])
        nested = (name for branch in added[VIEWS_STATE]["Branches"] for name in branch["States"])
        clash = sorted((set(added) | set(nested)) & set(states))
        if clash:
            raise DefinitionError(f"view states clash with template states: {', '.join(clash)}")
        anchor["Next"] = next(iter(added))
        states.update(added)
    rendered = _substitute(template, values)
    return json.dumps(rendered, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def template_placeholders(path: Path = TEMPLATE_PATH) -> set[str]:
    """Every ``${Name}`` the template file uses (the README documents each of them)."""
    return set(_PLACEHOLDER.findall(path.read_text(encoding="utf-8")))
