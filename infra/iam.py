"""IAM statement helpers shared by every policy of the stack, and the unscoped-action allow list.

The policy documents themselves are in ``infra/policies/``, one module per principal; they and
the bucket, key and topic policies are built from these pure functions.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from troposphere import AWSHelperFn, Join, Sub, iam

from infra.common import tags

Arn: TypeAlias = str | AWSHelperFn
Document: TypeAlias = dict[str, Any]
Statement: TypeAlias = dict[str, Any]

# The EC2 actions of a Glue job that runs in a VPC through a connection: Glue creates, tags and
# deletes an elastic network interface in the subnet, with the role of the job, and describes
# the subnet, security group, route tables and endpoints to check the network first
# (https://docs.aws.amazon.com/glue/latest/dg/sap-odata-configuring-iam-permissions.html;
# AWSGlueServiceRole grants the same set). The Describe actions have no resource type.
ENI_DESCRIBE = [
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeRouteTables",
    "ec2:DescribeVpcAttribute",
]

# Actions that AWS does not scope to a resource: the only ones allowed on Resource "*", and then
# each with a Condition where one exists. tests/infra check every policy against this list.
UNSCOPED_ACTIONS = frozenset(
    {
        "cloudwatch:PutMetricData",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "athena:ListWorkGroups",
        "athena:ListEngineVersions",
        # Lake Formation vends credentials for any registered location; the action has no
        # resource type (the Step Functions page for Athena .sync grants it on "*").
        "lakeformation:GetDataAccess",
        # EC2's Describe actions have no resource type (infra/policies/database.py).
        *ENI_DESCRIBE,
    }
)

S3_READ = ["s3:GetObject", "s3:GetObjectVersion"]
S3_WRITE = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
LOGS_WRITE = [
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:AssociateKmsKey",
]
KMS_USE = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]


def statement(
    sid: str,
    actions: list[str],
    resources: list[Arn],
    *,
    effect: str = "Allow",
    condition: dict[str, Any] | None = None,
) -> Statement:
    """One IAM statement.

    Parameters
    ----------
    sid : str
        Statement id (letters and digits).
    actions : list of str
        IAM actions, never a bare ``*``.
    resources : list
        ARNs, as strings or CloudFormation functions.
    effect : str
        ``Allow`` or ``Deny``.
    condition : dict, optional
        An IAM Condition block.

    Returns
    -------
    dict
        The statement.
    """
    stmt: Statement = {"Sid": sid, "Effect": effect, "Action": sorted(actions)}
    stmt["Resource"] = resources
    if condition:
        stmt["Condition"] = condition
    return stmt


def document(*statements: Statement) -> Document:
    """A policy document (version 2012-10-17) of the given statements."""
    return {"Version": "2012-10-17", "Statement": list(statements)}


def assume_role_policy(service: str) -> Document:
    """A trust policy letting one AWS service assume the role, from this account only.

    Parameters
    ----------
    service : str
        The service principal, e.g. ``glue.amazonaws.com``.

    Returns
    -------
    dict
        The trust policy document.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": Sub("${AWS::AccountId}")}},
            }
        ],
    }


def service_role(
    logical_id: str,
    description: str,
    service: str,
    policy_name: str,
    policy: Document,
    **extra: Any,
) -> iam.Role:
    """A role one AWS service assumes, with its one inline policy and the stack's tags.

    Parameters
    ----------
    logical_id : str
        The role's logical id in the template.
    description : str
        What the role is for, after ``medallion ${Environment}: ``.
    service : str
        The service principal, e.g. ``glue.amazonaws.com``.
    policy_name, policy : str, dict
        The inline policy's name and document.
    **extra
        Other role properties (a ``Condition``, say).

    Returns
    -------
    iam.Role
        The role, not yet added to a template.
    """
    return iam.Role(
        logical_id,
        Description=Sub(f"medallion ${{Environment}}: {description}"),
        AssumeRolePolicyDocument=assume_role_policy(service),
        Policies=[iam.Policy(PolicyName=policy_name, PolicyDocument=policy)],
        Tags=tags(),
        **extra,
    )


def objects(bucket_arn: Arn, prefix: str) -> Join:
    """The ARN of every object under ``prefix/`` in a bucket."""
    return Join("", [bucket_arn, f"/{prefix}/*"])


def list_prefixes(
    sid: str, bucket_arn: Arn, prefixes: tuple[str, ...] | list[str]
) -> list[Statement]:
    """ListBucket limited to some prefixes, and GetBucketLocation (which has no prefix).

    Parameters
    ----------
    sid : str
        Id of the ListBucket statement; the GetBucketLocation one adds ``Location``.
    bucket_arn : str or function
        The bucket's ARN.
    prefixes : sequence of str
        The prefixes (no trailing slash) whose keys may be listed.

    Returns
    -------
    list of dict
        The two statements.
    """
    allowed = [""] + [f"{p}/*" for p in prefixes] + list(prefixes)
    # A nested prefix's parents are listed too (S3A walks down to it: silver lists "_staging/"
    # before "_staging/checked/"); exactly, so only the names of their children show.
    for p in prefixes:
        parts = p.split("/")[:-1]
        allowed += ["/".join(parts[: i + 1]) + end for i in range(len(parts)) for end in ("", "/")]
    return [
        statement(
            sid,
            ["s3:ListBucket"],
            [bucket_arn],
            condition={"StringLike": {"s3:prefix": sorted(set(allowed))}},
        ),
        statement(f"{sid}Location", ["s3:GetBucketLocation"], [bucket_arn]),
    ]


def log_groups(prefix: str) -> list[Sub]:
    """The log groups whose names start with ``prefix``, and their streams."""
    return [
        Sub(
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{prefix}*"
        ),
        Sub(
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}"
            f":log-group:{prefix}*:log-stream:*"
        ),
    ]


def glue_catalog_arn() -> Sub:
    """The account's Glue Data Catalog, which every database and table action also names."""
    return Sub("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog")


def glue_arn(kind: str, database: Arn, suffix: str = "") -> Join:
    """The ARN of a Glue resource named after a database: ``database`` or ``table`` (+ ``/*``)."""
    head = Sub(f"arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/")
    return Join("", [head, database, suffix])


def database_and_tables(database: Arn) -> list[Arn]:
    """The catalog, one database and all its tables: what a Glue table action must name."""
    return [glue_catalog_arn(), glue_arn("database", database), glue_arn("table", database, "/*")]


def data_catalog_arn() -> Sub:
    """The account's Glue Data Catalog as Athena names it."""
    return Sub(
        "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:datacatalog/AwsDataCatalog"
    )


def workgroup_arn(workgroup_name: Arn) -> Join:
    """The ARN of an Athena workgroup of this account and region."""
    head = Sub("arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/")
    return Join("", [head, workgroup_name])
