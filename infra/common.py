"""Names, tags and small helpers shared by the infra modules."""

from __future__ import annotations

from typing import Any

from troposphere import AWSObject, GetAtt, Join, Ref, Sub, Tags, logs

PROJECT = "medallion"
LAYERS = ("bronze", "silver", "gold")
ENVIRONMENT = "Environment"  # the logical name of the Environment parameter


def name(suffix: str) -> Sub:
    """A physical name ``medallion-<env>-<suffix>``, from the Environment parameter.

    Parameters
    ----------
    suffix : str
        What the resource is, e.g. ``"bronze"`` or ``"alerts"``.

    Returns
    -------
    Sub
        ``Fn::Sub`` of ``medallion-${Environment}-<suffix>``.
    """
    return Sub(f"{PROJECT}-${{{ENVIRONMENT}}}-{suffix}")


def bucket_name(purpose: str) -> Sub:
    """A globally unique bucket name: ``medallion-<env>-<purpose>-<account>-<region>``.

    Parameters
    ----------
    purpose : str
        ``"lake"``, ``"scripts"``, ``"athena-results"`` or ``"access-logs"``.

    Returns
    -------
    Sub
        The name; at most 63 characters for environments of up to 10 characters.
    """
    return Sub(f"{PROJECT}-${{{ENVIRONMENT}}}-{purpose}-${{AWS::AccountId}}-${{AWS::Region}}")


def s3_uri(bucket: AWSObject, key: str = "") -> Join:
    """``s3://<bucket>/<key>`` for a bucket resource of the stack."""
    return Join("", ["s3://", Ref(bucket), "/", key]) if key else Join("", ["s3://", Ref(bucket)])


def tags(**extra: str) -> Tags:
    """The tags every taggable resource carries: project, environment, and any extra ones."""
    return Tags(project=PROJECT, environment=Ref(ENVIRONMENT), **extra)


def encrypted_log_group(
    title: str, prefix: str, suffix: str, key: AWSObject, retention_days: Ref, **extra: Any
) -> logs.LogGroup:
    """A log group ``<prefix>medallion-<env>-<suffix>``, encrypted with the stack's key.

    Parameters
    ----------
    title : str
        The log group's logical id.
    prefix : str
        Where the service delivers its logs, e.g. ``"/aws/vendedlogs/states/"``.
    suffix : str
        What logs there, e.g. ``"pipeline"``.
    key : kms.Key
        The stack's key.
    retention_days : Ref
        The LogRetentionDays parameter.
    **extra
        Other resource attributes (a ``Condition``, say).

    Returns
    -------
    logs.LogGroup
        The log group, tagged, not yet added to a template.
    """
    return logs.LogGroup(
        title,
        LogGroupName=Sub(f"{prefix}{PROJECT}-${{{ENVIRONMENT}}}-{suffix}"),
        RetentionInDays=retention_days,
        KmsKeyId=GetAtt(key, "Arn"),
        Tags=tags(),
        **extra,
    )


def checkov_skip(*skips: tuple[str, str]) -> dict[str, Any]:
    """Resource Metadata telling checkov to skip checks, each with the reason written beside it.

    Parameters
    ----------
    *skips : tuple of (str, str)
        ``(check_id, comment)`` pairs.

    Returns
    -------
    dict
        ``{"checkov": {"skip": [{"id": ..., "comment": ...}, ...]}}``.
    """
    return {"checkov": {"skip": [{"id": check, "comment": comment} for check, comment in skips]}}


def flag_parameter(description: str) -> dict[str, Any]:
    """The spec of an on/off parameter: ``"false"`` or ``"true"``, off unless set.

    Parameters
    ----------
    description : str
        What turning it on adds to the stack.

    Returns
    -------
    dict
        Keyword arguments of a ``troposphere.Parameter`` (String, AllowedValues ``false``/
        ``true``, Default ``false``), the form of the stack's parameter tables.
    """
    return dict(
        Type="String", Default="false", AllowedValues=["false", "true"], Description=description
    )
