"""Asks a deployed account's IAM policy simulator the recorded accesses, with the stack's names."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from medallion.access.model import ANALYSTS, Access, ResolvedAccess

CHUNK = 50  # resource ARNs per simulator request


class VerifyError(RuntimeError):
    """The stack or its policies could not be read."""


def stack_refs(env: str, cloudformation: Any) -> Callable[[str], str]:
    """``Ref`` of the deployed stack ``medallion-<env>``: each resource's physical id, and the
    pseudo parameters read from the stack's ARN."""
    stack = f"medallion-{env}"
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    except Exception as exc:  # botocore's ClientError and friends
        raise VerifyError(f"cannot read the stack {stack}: {exc}") from exc
    _, partition, _, region, account, _ = described["StackId"].split(":", 5)
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    pseudo = {"AWS::Partition": partition, "AWS::Region": region, "AWS::AccountId": account}

    def ref(name: str) -> str:
        if name in pseudo:
            return pseudo[name]
        if name not in physical:
            raise VerifyError(f"the stack {stack} has no resource {name}")
        return str(physical[name])

    return ref


def source_arn(principal: str, ref: Callable[[str], str]) -> str:
    """The ARN the simulator evaluates: a role's, or the analysts' managed policy's (its Ref)."""
    if principal == ANALYSTS:
        return ref(principal)
    return f"arn:{ref('AWS::Partition')}:iam::{ref('AWS::AccountId')}:role/{ref(principal)}"


def requests(
    accesses: Iterable[ResolvedAccess],
) -> list[tuple[str, str, tuple[Any, ...], list[str]]]:
    """(principal, action, context, resource ARNs) groups, at most :data:`CHUNK` ARNs each."""
    groups: dict[tuple[str, str, tuple[Any, ...]], list[str]] = defaultdict(list)
    for a in sorted(set(accesses)):
        groups[(a.principal, a.action, a.context)].append(a.resource)
    out = []
    for (principal, action, context), arns in sorted(groups.items()):
        for start in range(0, len(arns), CHUNK):
            out.append((principal, action, context, arns[start : start + CHUNK]))
    return out


def _context_entries(context: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    return [
        {"ContextKeyName": k, "ContextKeyValues": [v], "ContextKeyType": "string"}
        for k, v in context
    ]


def denied(response: dict[str, Any], principal: str) -> list[ResolvedAccess]:
    """The denials in one ``SimulatePrincipalPolicy`` / ``SimulateCustomPolicy`` response."""
    out = []
    for result in response.get("EvaluationResults", []):
        action = result["EvalActionName"]
        specific = result.get("ResourceSpecificResults") or []
        if specific:
            out += [
                ResolvedAccess(principal, action, r["EvalResourceName"])
                for r in specific
                if r["EvalResourceDecision"] != "allowed"
            ]
        elif result["EvalDecision"] != "allowed":
            out.append(ResolvedAccess(principal, action, result.get("EvalResourceName", "*")))
    return out


def _policy_document(iam: Any, arn: str) -> str:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    return document if isinstance(document, str) else json.dumps(document)


def simulate(
    accesses: Iterable[Access], env: str, session: Any, endpoint_url: str | None = None
) -> list[ResolvedAccess]:
    """Every recorded access the deployed stack's policies deny, by the account's simulator.

    Roles are simulated with ``iam:SimulatePrincipalPolicy`` on their ARNs; the analysts'
    managed policy, which is no principal until attached, with ``iam:SimulateCustomPolicy`` on
    its default version. Bucket policies are not passed (they only deny plain HTTP).

    Parameters
    ----------
    accesses
        Recorded accesses (``medallion.access.model.load()``).
    env
        The environment: the stack ``medallion-<env>``.
    session
        A boto3 session with IAM and CloudFormation read access in the stack's account.
    endpoint_url
        Another endpoint (tests).

    Returns
    -------
    list of ResolvedAccess
        The denials, with the stack's real ARNs.
    """
    cloudformation = session.client("cloudformation", endpoint_url=endpoint_url)
    iam = session.client("iam", endpoint_url=endpoint_url)
    ref = stack_refs(env, cloudformation)
    resolved = [a.resolve(ref) for a in accesses]
    documents: dict[str, str] = {}
    out: list[ResolvedAccess] = []
    for principal, action, context, arns in requests(resolved):
        arn = source_arn(principal, ref)
        common = {
            "ActionNames": [action],
            "ResourceArns": arns,
            "ContextEntries": _context_entries(context),
        }
        if principal == ANALYSTS:
            if arn not in documents:
                documents[arn] = _policy_document(iam, arn)
            pages = iam.get_paginator("simulate_custom_policy").paginate(
                PolicyInputList=[documents[arn]], **common
            )
        else:
            pages = iam.get_paginator("simulate_principal_policy").paginate(
                PolicySourceArn=arn, **common
            )
        for page in pages:
            out += [
                ResolvedAccess(d.principal, d.action, d.resource, context)
                for d in denied(page, principal)
            ]
    return sorted(set(out))
