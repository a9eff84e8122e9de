"""Evaluate recorded accesses against the rendered template's policies, with pmapper's simulator.

The evaluator is Principal Mapper's local policy simulation
(``principalmapper.querying.query_interface.local_check_authorization_full``): AWS's evaluation
order (an explicit Deny in any policy wins, then the resource policy, then an Allow in an identity
policy), wildcards in Action and Resource, NotAction and NotResource, and the condition operators
(String*, Arn*, Numeric*, Date*, Bool, IpAddress, Null, with IfExists and ForAllValues /
ForAnyValue). What it does not do, and what that means here:

* It matches Resource patterns case-insensitively (AWS matches ARNs case-sensitively); the lake's
  keys are lower case, so no result here depends on it.
* It knows no per-action resource types or condition keys: a request is evaluated with the context
  given, so each access carries the keys AWS would send (``s3:prefix`` on ``ListBucket``,
  ``kms:ViaService`` on KMS calls made through S3, SNS or Athena).
* No SCPs, permission boundaries or session policies are in the template, so none are passed.

pmapper's last release (1.1.5, 2022) imports ``collections.Mapping``, removed in Python 3.10;
:func:`_pmapper` puts the ``collections.abc`` names back before importing it, nothing else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from medallion.access.model import Access, ResolvedAccess


def refs(model: Any) -> Callable[[str], str]:
    """``Ref`` of a logical id or pseudo parameter in a :class:`medallion.stackmodel.StackModel`."""
    return lambda name: str(model.ref(name))


def principal_arn(model: Any, principal: str) -> str:
    """The ARN a principal has in the model: a role's, or (analysts) the managed policy's."""
    return str(model.arn(principal))


def principal_policies(model: Any, principal: str) -> list[dict[str, Any]]:
    """The identity policy documents of a role (inline and the stack's managed ones) or policy."""
    resource = model.resources[principal]
    props = model.properties(principal)
    if resource["Type"] == "AWS::IAM::ManagedPolicy":
        return [props["PolicyDocument"]]
    documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
    managed = {model.arn(lid): lid for lid in model.of_type("AWS::IAM::ManagedPolicy")}
    for arn in props.get("ManagedPolicyArns", []):
        if arn not in managed:
            raise ValueError(f"{principal}: managed policy {arn} is not in the template")
        documents.append(model.properties(managed[arn])["PolicyDocument"])
    return documents


def bucket_policies(model: Any) -> dict[str, dict[str, Any]]:
    """Bucket ARN -> its bucket policy, for every bucket policy in the template."""
    out = {}
    for lid in model.of_type("AWS::S3::BucketPolicy"):
        props = model.properties(lid)
        out[f"arn:{model.partition}:s3:::{props['Bucket']}"] = props["PolicyDocument"]
    return out


@dataclass(frozen=True)
class Denial:
    """An access the principal's policies do not allow."""

    access: ResolvedAccess

    def __str__(self) -> str:
        return f"DENIED {self.access}"


@dataclass(frozen=True)
class UnusedGrant:
    """An allowed (action, resource) of a statement that no recorded access uses."""

    principal: str
    sid: str
    action: str
    resource: str

    def __str__(self) -> str:
        return f"unused: {self.principal} {self.sid}: {self.action} on {self.resource}"


def _pmapper() -> None:
    """Let pmapper 1.1.5 import on Python 3.11 (it uses ``collections.Mapping``)."""
    import collections
    import collections.abc

    for name in ("Mapping", "MutableMapping"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))


def _node(arn: str, documents: list[dict[str, Any]]) -> Any:
    _pmapper()
    from principalmapper.common import Node, Policy

    # pmapper models users and roles; a managed policy is evaluated as a role it is attached to.
    if ":policy/" in arn:
        arn = arn.replace(":policy/", ":role/attached-")
    policies = [Policy(arn, f"policy{i}", doc) for i, doc in enumerate(documents)]
    trust = {"Version": "2012-10-17", "Statement": []}
    return Node(arn, "AROAEXAMPLE", policies, [], trust, None, 0, False, False, None, False, {})


def is_allowed(
    arn: str,
    documents: list[dict[str, Any]],
    access: ResolvedAccess,
    resource_policy: dict[str, Any] | None = None,
    owner: str | None = None,
) -> bool:
    """Whether identity policies (and a resource policy of the same account) allow one access."""
    _pmapper()
    from principalmapper.querying.query_interface import local_check_authorization_full

    return bool(
        local_check_authorization_full(
            _node(arn, documents),
            access.action,
            access.resource,
            dict(access.context),
            resource_policy,
            owner if resource_policy is not None else None,
        )
    )


def _bucket_of(resource: str) -> str:
    return resource.split("/", 1)[0] if resource.startswith("arn:aws:s3:::") else ""


def evaluate(accesses: Iterable[Access], model: Any) -> list[Denial]:
    """Every access the model's policies deny, principal by principal.

    Parameters
    ----------
    accesses
        Recorded accesses (templates over the stack's names).
    model
        A :class:`medallion.stackmodel.StackModel` (``model_for("dev")``).

    Returns
    -------
    list of Denial
        Sorted; empty when every access is allowed.
    """
    ref = refs(model)
    buckets = bucket_policies(model)
    documents = {}
    denials = []
    for access in sorted(set(accesses)):
        if access.principal not in documents:
            documents[access.principal] = principal_policies(model, access.principal)
        resolved = access.resolve(ref)
        bucket = buckets.get(_bucket_of(resolved.resource))
        arn = principal_arn(model, access.principal)
        if not is_allowed(arn, documents[access.principal], resolved, bucket, model.account_id):
            denials.append(Denial(resolved))
    return denials


def unused_grants(accesses: Iterable[Access], model: Any) -> list[UnusedGrant]:
    """Each (action, resource) an Allow statement grants that no recorded access of its principal
    uses: candidates for removal, to keep least privilege as the code changes."""
    _pmapper()
    from principalmapper.querying.local_policy_simulation import policy_has_matching_statement
    from principalmapper.util.case_insensitive_dict import CaseInsensitiveDict

    ref = refs(model)
    by_principal: Mapping[str, list[ResolvedAccess]] = defaultdict(list)
    for access in set(accesses):
        by_principal[access.principal].append(access.resolve(ref))
    out = []
    for principal, resolved in sorted(by_principal.items()):
        for document in principal_policies(model, principal):
            for stmt in document["Statement"]:
                if stmt["Effect"] != "Allow":
                    continue
                for action in _as_list(stmt.get("Action", [])):
                    for resource in _as_list(stmt.get("Resource", [])):
                        single = {"Statement": [{**stmt, "Action": action, "Resource": resource}]}
                        used = any(
                            policy_has_matching_statement(
                                single,
                                "Allow",
                                a.action,
                                a.resource,
                                CaseInsensitiveDict(dict(a.context)),
                            )
                            for a in resolved
                        )
                        if not used:
                            out.append(
                                UnusedGrant(principal, stmt.get("Sid", ""), action, resource)
                            )
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
