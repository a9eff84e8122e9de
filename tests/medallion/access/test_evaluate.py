"""The evaluator (iam-simulate through simulate.mjs) applies AWS's evaluation logic, in batches,
and says clearly when it cannot run."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from medallion.access import evaluate as evaluator
from medallion.access import mapping
from medallion.access.evaluate import EvaluatorError, evaluate, is_allowed, unused_grants
from medallion.access.model import Access, ResolvedAccess
from medallion.aws.stackmodel import model_for

MODEL = model_for("dev")
LAKE = f"arn:aws:s3:::{MODEL.ref('LakeBucket')}"
ROLE = "arn:aws:iam::123456789012:role/r"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/raw/*"},
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::b",
            "Condition": {"StringLike": {"s3:prefix": ["gold/*", ""]}},
        },
        {"Effect": "Allow", "Action": "glue:Get*", "Resource": "arn:aws:glue:*:*:table/gold/*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"},
    ],
}
NOT_ACTION = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/*"},
    ],
}


def allowed(documents: list[dict[str, Any]], action: str, resource: str, **context: str) -> bool:
    return is_allowed(ROLE, documents, ResolvedAccess("r", action, resource, (*context.items(),)))


@pytest.mark.parametrize(
    ("action", "resource", "context", "expected"),
    [
        ("s3:GetObject", "arn:aws:s3:::b/gold/x", {}, True),
        ("s3:GetObject", "arn:aws:s3:::b/raw/x", {}, False),  # explicit Deny wins
        ("s3:PutObject", "arn:aws:s3:::b/gold/x", {}, False),  # implicit deny
        ("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "gold/sales/"}, True),
        ("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": ""}, True),
        ("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "raw/"}, False),
        ("s3:ListBucket", "arn:aws:s3:::b", {}, False),  # no prefix key: StringLike fails
    ],
)
def test_the_evaluator_applies_deny_and_string_like_conditions(
    action: str, resource: str, context: dict[str, str], expected: bool
) -> None:
    assert allowed([POLICY], action, resource, **context) is expected


def test_wildcards_match_actions_regions_accounts_and_nested_keys() -> None:
    assert allowed([POLICY], "s3:GetObject", "arn:aws:s3:::b/gold/day=1/part-0.parquet")
    table = "arn:aws:glue:eu-west-1:123456789012:table/gold/orders"
    assert allowed([POLICY], "glue:GetTable", table)
    assert allowed([POLICY], "glue:GetPartitions", table)
    assert not allowed([POLICY], "glue:UpdateTable", table)
    assert not allowed([POLICY], "glue:GetTable", table.replace("/gold/", "/silver/"))


def test_resources_match_case_sensitively() -> None:
    assert allowed([POLICY], "s3:GetObject", "arn:aws:s3:::bucket/x")
    assert not allowed([POLICY], "s3:GetObject", "arn:aws:s3:::Bucket/x")


def test_not_action_and_not_resource() -> None:
    assert allowed([NOT_ACTION], "sns:Publish", "arn:aws:sns:eu-west-1:123456789012:t")
    assert allowed([NOT_ACTION], "s3:GetObject", "arn:aws:s3:::b/x")
    assert not allowed([NOT_ACTION], "iam:CreateRole", "arn:aws:iam::123456789012:role/x")
    assert not allowed([NOT_ACTION], "s3:GetObject", "arn:aws:s3:::other/x")  # NotResource Deny


def test_a_resource_policy_deny_applies_and_a_key_policy_must_delegate() -> None:
    access = ResolvedAccess("r", "s3:GetObject", "arn:aws:s3:::b/gold/x", ())
    insecure = ResolvedAccess(
        "r", "s3:GetObject", "arn:aws:s3:::b/gold/x", (("aws:SecureTransport", "false"),)
    )
    bucket_policy = MODEL.properties("LakeBucketPolicy")["PolicyDocument"]
    bucket_policy = json.loads(json.dumps(bucket_policy).replace(MODEL.ref("LakeBucket"), "b"))
    assert is_allowed(ROLE, [POLICY], access, bucket_policy, "123456789012")
    assert not is_allowed(ROLE, [POLICY], insecure, bucket_policy, "123456789012")

    key = MODEL.arn("DataKey")
    use = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key}
    decrypt = ResolvedAccess("r", "kms:Decrypt", key, ())
    key_policy = MODEL.properties("DataKey")["KeyPolicy"]
    no_delegation = {"Version": "2012-10-17", "Statement": key_policy["Statement"][1:]}
    identity = [{"Version": "2012-10-17", "Statement": [use]}]
    assert is_allowed(ROLE, identity, decrypt, key_policy, "123456789012")
    assert not is_allowed(ROLE, identity, decrypt, no_delegation, "123456789012")


def test_the_template_denies_what_it_must() -> None:
    denied = evaluate(
        [
            *mapping.s3_accesses("AnalystsPolicy", "read", "bronze/orders/part-0.parquet"),
            Access("AnalystsPolicy", "secretsmanager:GetSecretValue", "${PiiSaltSecret}"),
            *mapping.s3_accesses("GoldJobRole", "write", "bronze/orders/part-0.parquet"),
            *mapping.s3_accesses("GoldJobRole", "write", "gold/orders/part-0.parquet"),
        ],
        MODEL,
    )
    assert {(d.access.principal, d.access.action, d.decision) for d in denied} == {
        ("AnalystsPolicy", "s3:GetObject", "ExplicitlyDenied"),  # DenyRawAndRejectedRows
        ("AnalystsPolicy", "secretsmanager:GetSecretValue", "ExplicitlyDenied"),
        ("GoldJobRole", "s3:PutObject", "ImplicitlyDenied"),
    }
    assert str(denied[-1]).startswith("DENIED (no Allow) GoldJobRole: s3:PutObject on ")


def test_one_node_process_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = []
    real_run = subprocess.run

    def counting_run(*args: Any, **kwargs: Any) -> Any:
        runs.append(args)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(evaluator.subprocess, "run", counting_run)
    accesses = [
        a
        for day in range(1, 40)
        for a in mapping.s3_accesses("SilverJobRole", "write", f"silver/o/day={day}/part-0.parquet")
    ]
    assert evaluate(accesses, MODEL) == []
    assert len(runs) == 1


def test_unused_grants_are_the_statement_pairs_no_access_matched() -> None:
    accesses = [
        *mapping.s3_accesses("GoldJobRole", "read", "silver/orders/day=1/part-0.parquet"),
        *mapping.s3_accesses("GoldJobRole", "list", "raw"),  # refused by ListLake's condition
    ]
    unused = {(g.sid, g.action, g.resource) for g in unused_grants(accesses, MODEL)}
    assert {g.principal for g in unused_grants(accesses, MODEL)} == {"GoldJobRole"}
    assert ("ReadLake", "s3:GetObject", f"{LAKE}/silver/*") not in unused
    assert ("ReadLake", "s3:GetObject", f"{LAKE}/gold/*") in unused
    assert ("ReadLake", "s3:GetObjectVersion", f"{LAKE}/silver/*") in unused
    assert ("ListLake", "s3:ListBucket", LAKE) in unused
    assert ("WriteLake", "s3:PutObject", f"{LAKE}/gold/*") in unused
    used_key = ("UseKey", "kms:Decrypt", MODEL.arn("DataKey"))
    assert used_key not in unused


def test_a_request_the_service_reference_does_not_know_is_an_error() -> None:
    with pytest.raises(
        EvaluatorError, match=r"(?s)rejected 1 request.*s3:Frobnicate.*invalid\.action"
    ):
        allowed([POLICY], "s3:Frobnicate", "arn:aws:s3:::b/x")


def test_without_node_the_evaluator_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluator.shutil, "which", lambda name: None)
    with pytest.raises(EvaluatorError, match=r"needs node .* npm ci"):
        allowed([POLICY], "s3:GetObject", "arn:aws:s3:::b/x")


def test_without_the_npm_package_the_evaluator_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A copy of the script away from the repository, and an empty node_modules: nothing to load.
    script = tmp_path / "tool" / "simulate.mjs"
    script.parent.mkdir()
    shutil.copy(evaluator.SCRIPT, script)
    (tmp_path / "node_modules").mkdir()
    monkeypatch.setattr(evaluator, "SCRIPT", script)
    monkeypatch.setattr(evaluator, "NODE_MODULES", tmp_path / "node_modules")
    monkeypatch.delenv("NODE_PATH", raising=False)
    with pytest.raises(EvaluatorError) as caught:
        allowed([POLICY], "s3:GetObject", "arn:aws:s3:::b/x")
    message = str(caught.value)
    assert "cannot find @cloud-copilot/iam-simulate" in message
    assert "npm ci" in message
    assert "\n" not in message and "    at " not in message  # one line, no stack trace


def test_the_script_rejects_bad_input_in_one_line() -> None:
    node = shutil.which("node")
    assert node, "node is needed"
    done = subprocess.run(
        [node, str(evaluator.SCRIPT)],
        input="{not json",
        capture_output=True,
        text=True,
        env={"NODE_PATH": str(evaluator.NODE_MODULES)},
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("simulate.mjs: the input is not JSON")
    assert done.stderr.count("\n") == 1
