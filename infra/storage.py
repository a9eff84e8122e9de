"""Storage: the KMS key, the lake, scripts, Athena results and access-log buckets, the PII salt."""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import GetAtt, Join, Ref, Sub, Template, kms, s3, secretsmanager

from infra.common import bucket_name, checkov_skip, tags
from infra.iam import document, statement

SERVICE_KEY_USE = ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
KEY_ADMIN = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
]


@dataclass(frozen=True)
class Storage:
    """The storage resources other parts of the stack refer to."""

    key: kms.Key
    lake: s3.Bucket
    scripts: s3.Bucket
    results: s3.Bucket
    access_logs: s3.Bucket
    pii_salt: secretsmanager.Secret


def key_policy() -> dict[str, object]:
    """The KMS key policy: the account administers it; the services that encrypt with it use it.

    Returns
    -------
    dict
        The key policy. ``Resource: "*"`` in a key policy means this key and nothing else.
    """
    account = {"aws:SourceAccount": Sub("${AWS::AccountId}")}
    root = {"AWS": Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")}
    logs_arn = Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*")
    statements = [
        {**statement("AccountAdministers", KEY_ADMIN, ["*"]), "Principal": root},
        {
            **statement(
                "CloudWatchLogsEncrypt",
                ["kms:Encrypt*", "kms:ReEncrypt*", *SERVICE_KEY_USE],
                ["*"],
                condition={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": logs_arn}},
            ),
            "Principal": {"Service": Sub("logs.${AWS::Region}.amazonaws.com")},
        },
        {
            **statement(
                "AlarmsAndBudgetsPublishToTopic",
                SERVICE_KEY_USE,
                ["*"],
                condition={"StringEquals": account},
            ),
            "Principal": {"Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]},
        },
    ]
    return document(*statements)


def _tls_only(bucket: s3.Bucket) -> s3.BucketPolicy:
    arn = GetAtt(bucket, "Arn")
    return s3.BucketPolicy(
        f"{bucket.title}Policy",
        Bucket=Ref(bucket),
        PolicyDocument=document(_deny_insecure(arn)),
    )


def _deny_insecure(arn: GetAtt) -> dict[str, object]:
    return {
        **statement(
            "DenyInsecureTransport",
            ["s3:*"],
            [arn, Join("", [arn, "/*"])],
            effect="Deny",
            condition={"Bool": {"aws:SecureTransport": "false"}},
        ),
        "Principal": "*",
    }


def _bucket(
    title: str,
    purpose: str,
    *,
    key: kms.Key | None,
    rules: list[s3.LifecycleRule],
    access_logs: s3.Bucket | None,
    metadata: dict[str, object] | None = None,
) -> s3.Bucket:
    if key is None:  # S3 server access logs can only be delivered to an SSE-S3 bucket
        default = s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
        encryption = s3.ServerSideEncryptionRule(ServerSideEncryptionByDefault=default)
    else:
        default = s3.ServerSideEncryptionByDefault(
            SSEAlgorithm="aws:kms", KMSMasterKeyID=GetAtt(key, "Arn")
        )
        encryption = s3.ServerSideEncryptionRule(
            ServerSideEncryptionByDefault=default, BucketKeyEnabled=True
        )
    props: dict[str, object] = {
        "BucketName": bucket_name(purpose),
        "BucketEncryption": s3.BucketEncryption(ServerSideEncryptionConfiguration=[encryption]),
        "VersioningConfiguration": s3.VersioningConfiguration(Status="Enabled"),
        "PublicAccessBlockConfiguration": s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True,
            BlockPublicPolicy=True,
            IgnorePublicAcls=True,
            RestrictPublicBuckets=True,
        ),
        "OwnershipControls": s3.OwnershipControls(
            Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
        ),
        "LifecycleConfiguration": s3.LifecycleConfiguration(Rules=rules),
        "Tags": tags(),
    }
    if access_logs is not None:
        props["LoggingConfiguration"] = s3.LoggingConfiguration(
            DestinationBucketName=Ref(access_logs), LogFilePrefix=f"{purpose}/"
        )
    bucket = s3.Bucket(title, DeletionPolicy="Delete", UpdateReplacePolicy="Retain", **props)
    if metadata:
        bucket.Metadata = metadata
    return bucket


def _abort_uploads() -> s3.LifecycleRule:
    return s3.LifecycleRule(
        Id="AbortIncompleteUploads",
        Status="Enabled",
        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
    )


def _noncurrent(rule_id: str, days: object, prefix: str | None = None) -> s3.LifecycleRule:
    props: dict[str, object] = {
        "Id": rule_id,
        "Status": "Enabled",
        "NoncurrentVersionExpiration": s3.NoncurrentVersionExpiration(NoncurrentDays=days),
    }
    if prefix:
        props["Prefix"] = prefix
    return s3.LifecycleRule(**props)


def add_storage(
    template: Template,
    *,
    bronze_version_days: Ref,
    results_expiration_days: Ref,
    log_retention_days: Ref,
) -> Storage:
    """Add the key, the four buckets with their policies, and the PII salt secret.

    Parameters
    ----------
    template : Template
        The template to add to.
    bronze_version_days : Ref
        Days a replaced or deleted bronze object version is kept.
    results_expiration_days : Ref
        Days Athena query results are kept.
    log_retention_days : Ref
        Days S3 access logs are kept.

    Returns
    -------
    Storage
        The resources added.
    """
    key = add_key(template)
    access_logs = template.add_resource(access_logs_bucket(log_retention_days))
    lake = template.add_resource(lake_bucket(key, access_logs, bronze_version_days))
    scripts = template.add_resource(scripts_bucket(key, access_logs))
    results = template.add_resource(results_bucket(key, access_logs, results_expiration_days))
    for bucket in (lake, scripts, results):
        template.add_resource(_tls_only(bucket))
    template.add_resource(_access_logs_policy(access_logs, [lake, scripts, results]))
    pii_salt = add_pii_salt(template, key)
    return Storage(key, lake, scripts, results, access_logs, pii_salt)


def add_key(template: Template) -> kms.Key:
    """Add the stack's KMS key and its alias ``alias/medallion-<env>``.

    Parameters
    ----------
    template : Template
        The template to add to.

    Returns
    -------
    kms.Key
        The key, which encrypts the buckets, logs, topic and secret.
    """
    key = template.add_resource(
        kms.Key(
            "DataKey",
            Description=Sub("medallion ${Environment}: buckets, logs, topic and secret"),
            EnableKeyRotation=True,
            PendingWindowInDays=7,
            KeyPolicy=key_policy(),
            # No resource Tags: moto 5.2.5 reads KMS tags as TagKey/TagValue and fails on Key/Value;
            # the deploy's stack tags reach the key anyway.
        )
    )
    template.add_resource(
        kms.Alias(
            "DataKeyAlias", AliasName=Sub("alias/medallion-${Environment}"), TargetKeyId=Ref(key)
        )
    )
    return key


def access_logs_bucket(log_retention_days: Ref) -> s3.Bucket:
    """The bucket S3 server access logs of the other three are delivered to.

    Parameters
    ----------
    log_retention_days : Ref
        Days the logs are kept.

    Returns
    -------
    s3.Bucket
        The bucket (SSE-S3, not logged itself).
    """
    return _bucket(
        "AccessLogsBucket",
        "access-logs",
        key=None,
        rules=[
            s3.LifecycleRule(
                Id="ExpireLogs", Status="Enabled", ExpirationInDays=log_retention_days
            ),
            _noncurrent("ExpireOldVersions", 1),
            _abort_uploads(),
        ],
        access_logs=None,
        metadata=checkov_skip(
            ("CKV_AWS_18", "This is the access-log bucket; logging it to itself would loop."),
        ),
    )


def lake_bucket(key: kms.Key, access_logs: s3.Bucket, bronze_version_days: Ref) -> s3.Bucket:
    """The lake: landing, bronze, silver, gold, quarantine, quality and the jobs' state.

    Parameters
    ----------
    key : kms.Key
        The stack's key.
    access_logs : s3.Bucket
        Where its access logs go.
    bronze_version_days : Ref
        Days a replaced or deleted bronze object version is kept.

    Returns
    -------
    s3.Bucket
        The bucket.
    """
    return _bucket(
        "LakeBucket",
        "lake",
        key=key,
        rules=[
            _noncurrent("ExpireOldBronzeVersions", bronze_version_days, "bronze/"),
            _noncurrent("ExpireOldVersions", 90),
            _abort_uploads(),
        ],
        access_logs=access_logs,
    )


def scripts_bucket(key: kms.Key, access_logs: s3.Bucket) -> s3.Bucket:
    """The jobs' entry scripts, jobs.zip, contracts and SQL, and Glue's temporary files.

    Parameters
    ----------
    key : kms.Key
        The stack's key.
    access_logs : s3.Bucket
        Where its access logs go.

    Returns
    -------
    s3.Bucket
        The bucket.
    """
    return _bucket(
        "ScriptsBucket",
        "scripts",
        key=key,
        rules=[
            _noncurrent("ExpireOldVersions", 30),
            s3.LifecycleRule(
                Id="ExpireGlueTemporary",
                Status="Enabled",
                Prefix="temporary/",
                ExpirationInDays=7,
            ),
            _abort_uploads(),
        ],
        access_logs=access_logs,
    )


def results_bucket(key: kms.Key, access_logs: s3.Bucket, expiration_days: Ref) -> s3.Bucket:
    """Where Athena writes query results, for the pipeline's views and the analysts.

    Parameters
    ----------
    key : kms.Key
        The stack's key.
    access_logs : s3.Bucket
        Where its access logs go.
    expiration_days : Ref
        Days query results are kept.

    Returns
    -------
    s3.Bucket
        The bucket.
    """
    return _bucket(
        "AthenaResultsBucket",
        "athena-results",
        key=key,
        rules=[
            s3.LifecycleRule(
                Id="ExpireQueryResults",
                Status="Enabled",
                ExpirationInDays=expiration_days,
            ),
            _noncurrent("ExpireOldVersions", 1),
            _abort_uploads(),
        ],
        access_logs=access_logs,
    )


def add_pii_salt(template: Template, key: kms.Key) -> secretsmanager.Secret:
    """Add the secret salt of the silver layer's PII hashes, generated by Secrets Manager.

    Parameters
    ----------
    template : Template
        The template to add to.
    key : kms.Key
        The key that encrypts it.

    Returns
    -------
    secretsmanager.Secret
        The secret.
    """
    # No rotation schedule: a new salt changes every hashed identifier and breaks joins across
    # runs, so it is rotated deliberately, followed by a full refresh of silver and gold.
    return template.add_resource(
        secretsmanager.Secret(
            "PiiSaltSecret",
            Description=Sub("medallion ${Environment}: the salt of the silver layer's PII hashes"),
            KmsKeyId=Ref(key),
            GenerateSecretString=secretsmanager.GenerateSecretString(
                PasswordLength=48, ExcludePunctuation=True
            ),
            Tags=tags(),
        )
    )


def _access_logs_policy(access_logs: s3.Bucket, sources: list[s3.Bucket]) -> s3.BucketPolicy:
    arn = GetAtt(access_logs, "Arn")
    delivery = {
        **statement(
            "S3ServerAccessLogDelivery",
            ["s3:PutObject"],
            [Join("", [arn, "/*"])],
            condition={
                "StringEquals": {"aws:SourceAccount": Sub("${AWS::AccountId}")},
                "ArnLike": {"aws:SourceArn": [GetAtt(b, "Arn") for b in sources]},
            },
        ),
        "Principal": {"Service": "logging.s3.amazonaws.com"},
    }
    return s3.BucketPolicy(
        "AccessLogsBucketPolicy",
        Bucket=Ref(access_logs),
        PolicyDocument=document(_deny_insecure(arn), delivery),
    )
