"""medallion verify builds simulator requests with the stack's ARNs and reports the denials.

moto 5.2.5 does not implement iam:SimulatePrincipalPolicy or SimulateCustomPolicy, so the IAM
side is botocore's Stubber; the stack's resources come from a stubbed CloudFormation too.
"""

from __future__ import annotations

import boto3
from botocore.stub import ANY, Stubber

from medallion.access import verify
from medallion.access.model import Access

STACK_ID = "arn:aws:cloudformation:eu-west-1:111122223333:stack/medallion-dev/abc"


class StubSession:
    def __init__(self) -> None:
        self.cfn = boto3.client("cloudformation", region_name="eu-west-1")
        self.iam = boto3.client("iam", region_name="eu-west-1")

    def client(self, name: str, endpoint_url: str | None = None) -> object:
        return {"cloudformation": self.cfn, "iam": self.iam}[name]


def test_a_denial_is_reported_with_the_real_arns() -> None:
    session = StubSession()
    cfn, iam = Stubber(session.cfn), Stubber(session.iam)
    cfn.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "medallion-dev",
                    "StackId": STACK_ID,
                    "CreationTime": "2026-01-01",
                    "StackStatus": "CREATE_COMPLETE",
                }
            ]
        },
    )
    cfn.add_response(
        "describe_stack_resources",
        {
            "StackResources": [
                {
                    "LogicalResourceId": "SilverJobRole",
                    "PhysicalResourceId": "medallion-dev-silver-role",
                    "ResourceType": "AWS::IAM::Role",
                    "Timestamp": "2026-01-01",
                    "ResourceStatus": "CREATE_COMPLETE",
                },
                {
                    "LogicalResourceId": "LakeBucket",
                    "PhysicalResourceId": "lake-bucket",
                    "ResourceType": "AWS::S3::Bucket",
                    "Timestamp": "2026-01-01",
                    "ResourceStatus": "CREATE_COMPLETE",
                },
            ]
        },
    )
    object_arn = "arn:aws:s3:::lake-bucket/_staging/checked/o/run_id=1/part-0.parquet"
    iam.add_response(
        "simulate_principal_policy",
        {
            "EvaluationResults": [
                {
                    "EvalActionName": "s3:PutObject",
                    "EvalResourceName": object_arn,
                    "EvalDecision": "implicitDeny",
                }
            ],
            "IsTruncated": False,
        },
        {
            "PolicySourceArn": "arn:aws:iam::111122223333:role/medallion-dev-silver-role",
            "ActionNames": ["s3:PutObject"],
            "ResourceArns": [object_arn],
            "ContextEntries": ANY,
        },
    )
    access = Access(
        "SilverJobRole",
        "s3:PutObject",
        "arn:${AWS::Partition}:s3:::${LakeBucket}/_staging/checked/o/run_id=1/part-0.parquet",
    )
    with cfn, iam:
        denials = verify.simulate([access], "dev", session)
    assert [str(d) for d in denials] == [f"SilverJobRole: s3:PutObject on {object_arn}"]


def test_context_keys_are_sent_as_strings() -> None:
    entries = verify._context_entries((("s3:prefix", "gold/"),))
    assert entries == [
        {"ContextKeyName": "s3:prefix", "ContextKeyValues": ["gold/"], "ContextKeyType": "string"}
    ]
