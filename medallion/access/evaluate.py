"""Evaluate recorded accesses against the rendered template's policies, with iam-simulate.

The evaluator is ``@cloud-copilot/iam-simulate`` (npm, pinned in ``package.json``), AWS's policy
evaluation logic as a library: an explicit Deny in any policy wins, then an Allow in the identity
policies or in the resource policy of the same account; Action and NotAction, Resource and
NotResource with wildcards, matched case-sensitively as AWS does; every condition operator
(with IfExists and the ForAllValues / ForAnyValue set operators). It also checks each request
against AWS's service reference: an unknown action, a resource ARN of no type the action takes,
an invalid policy are errors (:class:`EvaluatorError`), and context keys the action does not
take are dropped, as AWS would not send them.

One ``node`` process (:data:`SCRIPT`, ``simulate.mjs`` beside this module) evaluates a batch of
requests read as JSON on stdin; the package is found in ``node_modules`` at the repository root
(``npm ci``, which ``scripts/setup.sh --test`` runs). What it is given, and so what it does not
evaluate:

* each principal's identity policies in the template (a role's inline policies and the stack's
  managed policies attached to it; the analysts' managed policy alone) and the template's resource
  policies (:func:`resource_policies`): a bucket's policy for requests on the bucket and its
  objects, the data key's key policy (the simulator, like KMS, lets identity policies grant a key
  only when its key policy delegates to the account), the alert topic's policy;
* no SCPs, RCPs, permission boundaries or session policies, none of the real account's other
  policies (policies attached outside the stack, keys of other stacks), no Lake Formation grants:
  ``medallion verify`` asks the deployed account's own policy simulator for those;
* the context keys each access carries (``s3:prefix`` on ``ListBucket``, ``kms:ViaService`` on KMS
  calls made through S3, SNS or Athena) and no others: the library does not fill in request keys
  such as ``aws:SecureTransport`` (so the TLS-only Deny statements never apply here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medallion.access.model import Access, ResolvedAccess

SCRIPT = Path(__file__).with_name("simulate.mjs")
# node_modules of the repository this module is in (an editable install, as setup.sh makes).
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
TIMEOUT = 900  # seconds for one batch


class EvaluatorError(RuntimeError):
    """The evaluator could not run (no node, no npm package) or rejected a request."""


def refs(model: Any) -> Callable[[str], str]:
    """``Ref`` of a logical id or pseudo parameter in a
    :class:`medallion.aws.stackmodel.StackModel`."""
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


def resource_policies(model: Any) -> dict[str, dict[str, Any]]:
    """Resource ARN -> its resource policy: the bucket policies (by bucket ARN), the KMS keys'
    key policies and the SNS topic policies of the template."""
    out = bucket_policies(model)
    for lid in model.of_type("AWS::KMS::Key"):
        out[model.arn(lid)] = model.properties(lid)["KeyPolicy"]
    for lid in model.of_type("AWS::SNS::TopicPolicy"):
        props = model.properties(lid)
        out.update(dict.fromkeys(props["Topics"], props["PolicyDocument"]))
    return out


def _resource_policy_arn(resource: str) -> str:
    """The ARN whose policy applies to a request's resource: an object's bucket, else itself."""
    return resource.split("/", 1)[0] if resource.startswith("arn:aws:s3:::") else resource


@dataclass(frozen=True)
class Denial:
    """An access the principal's policies do not allow."""

    access: ResolvedAccess
    decision: str = "ImplicitlyDenied"

    def __str__(self) -> str:
        how = "explicit Deny" if self.decision == "ExplicitlyDenied" else "no Allow"
        return f"DENIED ({how}) {self.access}"


@dataclass(frozen=True)
class UnusedGrant:
    """An allowed (action, resource) of a statement that no recorded access uses."""

    principal: str
    sid: str
    action: str
    resource: str

    def __str__(self) -> str:
        return f"unused: {self.principal} {self.sid}: {self.action} on {self.resource}"


# --- the node process ----------------------------------------------------------------------------


def simulate(policies: dict[str, Any], requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run :data:`SCRIPT` once on a batch: one result per request, in order.

    Parameters
    ----------
    policies
        Policy name -> policy document, the names the requests use.
    requests
        ``{"principal", "action", "resource", "accountId", "context", "identityPolicies",
        "resourcePolicy"}`` each (see ``simulate.mjs``).

    Raises
    ------
    EvaluatorError
        When node or the npm package is missing, the script fails, or a request is invalid.
    """
    if not requests:
        return []
    node = shutil.which("node")
    if node is None:
        raise EvaluatorError(
            "the IAM evaluator needs node (Node.js 20) on PATH: install it, then run "
            "npm ci at the repository root (scripts/setup.sh --test does both)"
        )
    env = dict(os.environ)
    env["NODE_PATH"] = os.pathsep.join(filter(None, [str(NODE_MODULES), env.get("NODE_PATH")]))
    try:
        done = subprocess.run(
            [node, str(SCRIPT)],
            input=json.dumps({"policies": policies, "requests": requests}),
            capture_output=True,
            text=True,
            env=env,
            cwd=NODE_MODULES.parent,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EvaluatorError(f"the IAM evaluator ({SCRIPT.name}) did not run: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.strip() or f"exit status {done.returncode}"
        raise EvaluatorError(f"the IAM evaluator failed: {message}")
    results: list[dict[str, Any]] = json.loads(done.stdout)
    rejected = [(r, res) for r, res in zip(requests, results, strict=True) if "error" in res]
    if rejected:
        lines = [
            f"{r['principal']} {r['action']} on {r['resource']}: {res['error']}"
            + (f" {json.dumps(res['details'])}" if len(res.get("details", {})) > 1 else "")
            for r, res in rejected[:20]
        ]
        raise EvaluatorError(
            f"the IAM evaluator rejected {len(rejected)} request(s):\n" + "\n".join(lines)
        )
    return results


def _simulated_arn(arn: str) -> str:
    # The simulator evaluates requests of users and roles: the analysts' managed policy is
    # evaluated as a role of the account it is attached to.
    return arn.replace(":policy/", ":role/attached-") if ":policy/" in arn else arn


def _request(
    arn: str,
    access: ResolvedAccess,
    identity: list[str],
    resource_policy: str | None,
    account: str,
) -> dict[str, Any]:
    return {
        "principal": _simulated_arn(arn),
        "action": access.action,
        "resource": access.resource,
        "accountId": account,
        "context": dict(access.context),
        "identityPolicies": identity,
        "resourcePolicy": resource_policy,
    }


def _account_of(arn: str) -> str:
    return arn.split(":")[4]


def is_allowed(
    arn: str,
    documents: list[dict[str, Any]],
    access: ResolvedAccess,
    resource_policy: dict[str, Any] | None = None,
    owner: str | None = None,
) -> bool:
    """Whether identity policies (and a resource policy of the same account) allow one access."""
    policies: dict[str, Any] = {f"identity{i}": doc for i, doc in enumerate(documents)}
    if resource_policy is not None:
        policies["resource"] = resource_policy
    request = _request(
        arn,
        access,
        [f"identity{i}" for i in range(len(documents))],
        "resource" if resource_policy is not None else None,
        owner or _account_of(arn),
    )
    (result,) = simulate(policies, [request])
    return bool(result["decision"] == "Allowed")


# --- the stack's accesses ------------------------------------------------------------------------


def _identity_names(
    model: Any, principals: Iterable[str], policies: dict[str, Any]
) -> dict[str, list[str]]:
    """Principal -> the names of its identity policies, added to ``policies``."""
    names = {}
    for principal in sorted(set(principals)):
        documents = principal_policies(model, principal)
        names[principal] = [f"{principal}/{i}" for i in range(len(documents))]
        policies.update(zip(names[principal], documents, strict=True))
    return names


def evaluate(accesses: Iterable[Access], model: Any) -> list[Denial]:
    """Every access the model's policies deny, in one evaluator run.

    Parameters
    ----------
    accesses
        Recorded accesses (templates over the stack's names).
    model
        A :class:`medallion.aws.stackmodel.StackModel` (``model_for("dev")``).

    Returns
    -------
    list of Denial
        Sorted; empty when every access is allowed.
    """
    ref = refs(model)
    resolved = sorted({a.resolve(ref) for a in accesses})
    policies: dict[str, Any] = {}
    names = _identity_names(model, (a.principal for a in resolved), policies)
    for arn, document in resource_policies(model).items():
        policies[f"resource {arn}"] = document
    requests = []
    for access in resolved:
        resource_policy = f"resource {_resource_policy_arn(access.resource)}"
        requests.append(
            _request(
                principal_arn(model, access.principal),
                access,
                names[access.principal],
                resource_policy if resource_policy in policies else None,
                model.account_id,
            )
        )
    results = simulate(policies, requests)
    return [
        Denial(access, result["decision"])
        for access, result in zip(resolved, results, strict=True)
        if result["decision"] != "Allowed"
    ]


def unused_grants(accesses: Iterable[Access], model: Any) -> list[UnusedGrant]:
    """Each (action, resource) an Allow statement grants that no recorded access of its principal
    uses: candidates for removal, to keep least privilege as the code changes.

    Every distinct access is evaluated against its principal's identity policies (one evaluator
    run); the evaluator reports each Allow statement that matched a request (its action, its
    resource and its conditions), with the statement's Action and Resource patterns that matched.
    A pattern pair of a statement is used when one request matched the statement through both.
    Statements with NotAction or NotResource are not split into pairs, and not listed.
    """
    ref = refs(model)
    resolved = sorted({a.resolve(ref) for a in accesses})
    policies: dict[str, Any] = {}
    names = _identity_names(model, (a.principal for a in resolved), policies)
    requests = [
        _request(principal_arn(model, a.principal), a, names[a.principal], None, model.account_id)
        for a in resolved
    ]
    used: set[tuple[str, int, str, str]] = set()
    for result in simulate(policies, requests):
        for stmt in result["allow"]:
            for action in stmt["actions"]:
                for resource in stmt["resources"]:
                    used.add((stmt["policy"], stmt["index"], action, resource))
    return _unused(names, policies, used)


def _unused(
    names: dict[str, list[str]],
    policies: dict[str, Any],
    used: set[tuple[str, int, str, str]],
) -> list[UnusedGrant]:
    out = []
    for principal, policy_names in sorted(names.items()):
        for name in policy_names:
            for index, stmt in enumerate(_as_list(policies[name]["Statement"])):
                if stmt["Effect"] != "Allow":
                    continue
                for action in _as_list(stmt.get("Action", [])):
                    for resource in _as_list(stmt.get("Resource", [])):
                        if (name, index, action, resource) not in used:
                            out.append(
                                UnusedGrant(principal, stmt.get("Sid", ""), action, resource)
                            )
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
