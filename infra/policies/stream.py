"""The order stream's policies: Firehose delivers under two prefixes; the API forwards to it."""

from __future__ import annotations

from troposphere import Join, Sub

from infra.iam import Arn, Document, document, objects, statement

# Where Firehose writes: events under landing/ (which bronze reads, by the order_lines contract's
# stream prefix), and the records it could not deliver outside landing/, so neither bronze nor
# the runs-on-arrival rule (key prefix landing/) ever sees them.
STREAM_PREFIX = "landing/order_lines/stream"
ERROR_PREFIX = "landing-errors/stream"
PUT_ACTIONS = ["firehose:PutRecord", "firehose:PutRecordBatch"]


def firehose_delivery_policy(lake_bucket_arn: Arn, key_arn: Arn, log_group_arn: Arn) -> Document:
    """What the delivery stream's role may do: write its two prefixes with the lake's key, log.

    The S3 actions are those of Firehose's documented destination policy
    (https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html#using-iam-s3),
    each narrowed to the two prefixes.

    Parameters
    ----------
    lake_bucket_arn, key_arn : str or function
        The lake bucket and the stack's key.
    log_group_arn : str or function
        The delivery stream's log group (``...:log-group:<name>:*``).

    Returns
    -------
    dict
        The policy document.
    """
    prefixes = [STREAM_PREFIX, ERROR_PREFIX]
    return document(
        statement(
            "WriteStreamObjects",
            ["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"],
            [objects(lake_bucket_arn, p) for p in prefixes],
        ),
        statement(
            "ListStreamPrefixes",
            ["s3:ListBucket"],
            [lake_bucket_arn],
            condition={"StringLike": {"s3:prefix": [f"{p}/*" for p in prefixes]}},
        ),
        statement(
            "BucketOfTheStream",
            ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
            [lake_bucket_arn],
        ),
        statement(
            "EncryptWithTheLakeKey",
            ["kms:GenerateDataKey", "kms:Decrypt"],
            [key_arn],
            # Only through S3, as the jobs' policies do. No encryption-context condition: with
            # the lake's S3 Bucket Key the context is the bucket's ARN, not the object's
            # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html), so the
            # prefixes above are the limit.
            condition={"StringEquals": {"kms:ViaService": Sub("s3.${AWS::Region}.amazonaws.com")}},
        ),
        statement("LogDeliveryErrors", ["logs:PutLogEvents"], [log_group_arn]),
    )


def stream_api_policy(delivery_stream_arn: Arn) -> Document:
    """What the API's integration role may do: put records into the one delivery stream.

    Parameters
    ----------
    delivery_stream_arn : str or function
        The delivery stream.

    Returns
    -------
    dict
        The policy document.
    """
    return document(statement("ForwardToTheStream", PUT_ACTIONS, [delivery_stream_arn]))


def stream_producers_policy(delivery_stream_arn: Arn) -> Document:
    """What a producer that writes to Firehose itself needs (``medallion stream``, boto3, the CLI).

    Parameters
    ----------
    delivery_stream_arn : str or function
        The delivery stream.

    Returns
    -------
    dict
        The policy document.
    """
    return document(statement("PutOrderEvents", PUT_ACTIONS, [delivery_stream_arn]))


def stream_api_callers_policy(api_methods: list[Arn]) -> Document:
    """What a producer outside AWS needs: call the API's two methods (signed with SigV4).

    Parameters
    ----------
    api_methods : list
        ``execute-api`` ARNs of the methods (:func:`api_method_arn`).

    Returns
    -------
    dict
        The policy document.
    """
    return document(statement("CallTheStreamApi", ["execute-api:Invoke"], api_methods))


def api_method_arn(api_id: object, stage: str, method: str, path: str) -> Join:
    """``arn:...:execute-api:<region>:<account>:<api>/<stage>/<method>/<path>``."""
    head = Sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:")
    return Join("", [head, api_id, f"/{stage}/{method}/{path}"])
