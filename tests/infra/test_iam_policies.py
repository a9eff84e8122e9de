"""Every policy in the template names specific resources; the analysts' policy keeps to gold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from infra import iam
from infra.policies.jobs import glue_job_policy
from infra.stack import render

TEMPLATE = json.loads(render("dev"))
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def flat(value: Any) -> str:
    """A CloudFormation value as text: ``{"Ref": "X"}`` is ``${X}``, GetAtt ``${X.Attr}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return "${" + value["Ref"] + "}"
        if "Fn::GetAtt" in value:
            return "${" + ".".join(value["Fn::GetAtt"]) + "}"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(flat(p) for p in parts)
        if "Fn::Sub" in value:
            return flat(
                value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            )
    raise AssertionError(f"unexpected value {value!r}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policies() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(logical id, kind, document) of every policy document in the template."""
    for logical_id, resource in RESOURCES.items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield logical_id, "identity", policy["PolicyDocument"]
        elif kind == "AWS::IAM::ManagedPolicy":
            yield logical_id, "identity", props["PolicyDocument"]
        elif kind in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"):
            yield logical_id, "resource", props["PolicyDocument"]
        elif kind == "AWS::KMS::Key":
            yield logical_id, "key", props["KeyPolicy"]


def statements() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for logical_id, kind, document in policies():
        for statement in document["Statement"]:
            yield logical_id, kind, statement


def test_the_template_has_the_expected_policies() -> None:
    kinds = [kind for _, kind, _ in policies()]
    assert kinds.count("identity") >= 7  # 3 jobs, crawlers, pipeline, analysts, schedule
    assert kinds.count("resource") == 6  # 4 buckets, the topic, the arrivals queue
    assert kinds.count("key") == 1


@pytest.mark.parametrize(
    ("logical_id", "kind", "statement"),
    list(statements()),
    ids=[f"{lid}-{s.get('Sid', i)}" for i, (lid, _, s) in enumerate(statements())],
)
def test_no_wildcard_action_on_a_wildcard_resource(
    logical_id: str, kind: str, statement: dict[str, Any]
) -> None:
    actions = as_list(statement["Action"])
    resources = [flat(r) for r in as_list(statement.get("Resource", []))]
    assert resources, f"{logical_id}: a statement without Resource"
    broad = [a for a in actions if a == "*" or a.endswith(":*")]
    assert not (broad and "*" in resources), f"{logical_id}: {broad} on *"
    if kind == "key":
        # In a key policy "*" is the key itself; still, no service-wide wildcard action.
        assert not broad
        return
    if kind == "identity":
        assert not any("*" in a for a in actions), f"{logical_id}: wildcard action {actions}"
        if statement["Effect"] == "Allow" and "*" in resources:
            assert set(actions) <= iam.UNSCOPED_ACTIONS, f"{logical_id}: {actions} on *"
    if kind == "resource":
        assert "*" not in resources
    for resource in resources:
        assert resource == "*" or resource.startswith(("arn:", "${")), resource


def test_metrics_on_star_are_limited_to_the_glue_namespace() -> None:
    for _, _, statement in statements():
        if "cloudwatch:PutMetricData" in as_list(statement["Action"]):
            assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Glue"}}


def _analysts() -> list[dict[str, Any]]:
    return RESOURCES["AnalystsPolicy"]["Properties"]["PolicyDocument"]["Statement"]


def _resources(effect: str, action: str) -> set[str]:
    return {
        flat(r)
        for s in _analysts()
        if s["Effect"] == effect and action in as_list(s["Action"])
        for r in as_list(s["Resource"])
    }


def test_analysts_read_gold_quality_records_and_their_query_results_only() -> None:
    assert _resources("Allow", "s3:GetObject") == {
        "${LakeBucket.Arn}/gold/*",
        "${LakeBucket.Arn}/quality/results/*",  # the gold tables quality_results, quality_runs
        "${LakeBucket.Arn}/quality/runs/*",
        "${AthenaResultsBucket.Arn}/results/*",
    }
    denied = _resources("Deny", "s3:GetObject")
    for prefix in ("bronze", "quarantine", "landing"):
        assert f"${{LakeBucket.Arn}}/{prefix}/*" in denied


def test_analysts_see_the_gold_catalog_and_never_the_raw_tables() -> None:
    allowed = _resources("Allow", "glue:GetTable")
    assert all("gold" in r or r.endswith(":catalog") for r in allowed), allowed
    denied = _resources("Deny", "glue:GetTable")
    assert any("bronze/*" in r for r in denied) and any("silver/*" in r for r in denied)


def test_analysts_query_only_in_the_workgroup_and_cannot_read_the_pii_salt() -> None:
    assert _resources("Allow", "athena:StartQueryExecution") == {
        "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/"
        "medallion-${Environment}-analysts"
    }
    assert _resources("Deny", "secretsmanager:GetSecretValue") == {"${PiiSaltSecret}"}


def _job(layer: str, **extra: Any) -> list[dict[str, Any]]:
    document = glue_job_policy(
        layer,
        lake_bucket_arn="arn:lake",
        scripts_bucket_arn="arn:scripts",
        key_arn="arn:key",
        **extra,
    )
    return json.loads(json.dumps(document, default=lambda o: o.to_dict()))["Statement"]


def _job_resources(layer: str, sid: str, **extra: Any) -> set[str]:
    return {flat(r) for s in _job(layer, **extra) if s["Sid"] == sid for r in s["Resource"]}


def test_each_job_writes_only_its_own_layer() -> None:
    assert _job_resources("bronze", "WriteLake") == {"arn:lake/bronze/*", "arn:lake/_meta/*"}
    assert _job_resources("silver", "WriteLake") == {
        "arn:lake/silver/*",
        "arn:lake/quarantine/*",
        "arn:lake/quality/*",
        # its staged batches, written and deleted by each run
        "arn:lake/_staging/checked/*",
        "arn:lake/_staging/silver/*",
    }
    # and its own quality results (the customer-value model's warnings, issue 14)
    assert _job_resources("gold", "WriteLake") == {
        "arn:lake/gold/*",
        "arn:lake/quality/*",
        # its own state (what it consumed, the customer-activity table, the publish journal) and
        # the new mart versions it stages before the swap (docs/incremental-gold.md)
        "arn:lake/_meta/gold/*",
        "arn:lake/_staging/gold/*",
    }
    assert "arn:lake/bronze/*" not in _job_resources("gold", "ReadLake")
    assert "arn:lake/landing/*" not in _job_resources("silver", "ReadLake")


def test_only_the_silver_job_reads_the_pii_salt() -> None:
    silver = _job("silver", secret_arn="arn:salt")
    assert any(s["Resource"] == ["arn:salt"] for s in silver)
    roles = {
        layer: json.dumps(RESOURCES[f"{layer.capitalize()}JobRole"]) for layer in ("bronze", "gold")
    }
    assert all("secretsmanager" not in text for text in roles.values())
    assert "secretsmanager:GetSecretValue" in json.dumps(RESOURCES["SilverJobRole"])


def test_roles_trust_one_service_of_this_account() -> None:
    for logical_id, resource in RESOURCES.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        (trust,) = resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert isinstance(trust["Principal"]["Service"], str), logical_id
        assert "aws:SourceAccount" in trust["Condition"]["StringEquals"], logical_id
