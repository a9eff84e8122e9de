"""Names, tags and small helpers shared by the infra modules."""

from __future__ import annotations

from typing import Any

from troposphere import AWSObject, Join, Ref, Sub, Tags

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
