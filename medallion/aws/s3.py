"""S3: uploads, and emptying a versioned bucket (every version and delete marker)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError

from medallion.aws import AwsError, client

DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys


class BucketNotFoundError(AwsError):
    """The bucket does not exist."""


class UploadError(AwsError):
    """A file could not be uploaded."""


def _s3(session: boto3.Session | None, endpoint_url: str | None, region: str | None) -> Any:
    return client("s3", session, endpoint_url, region)


def upload_file(
    path: Path,
    bucket: str,
    key: str,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    extra_args: dict[str, str] | None = None,
) -> str:
    """Upload one file.

    Parameters
    ----------
    path : Path
        The local file.
    bucket, key : str
        Where it goes.
    session, endpoint_url, region
        Where (see :func:`medallion.aws.client`).
    extra_args : dict, optional
        boto3 ExtraArgs, e.g. ``{"ServerSideEncryption": "AES256"}``.

    Returns
    -------
    str
        The ``s3://bucket/key`` URI.

    Raises
    ------
    UploadError
        On any S3 error, naming the file and the destination.
    """
    try:
        _s3(session, endpoint_url, region).upload_file(
            str(path), bucket, key, ExtraArgs=extra_args or {}
        )
    except (ClientError, S3UploadFailedError) as exc:
        raise UploadError(f"could not upload {path} to s3://{bucket}/{key}: {exc}") from exc
    return f"s3://{bucket}/{key}"


def upload_files(
    files: Iterable[tuple[Path, str]],
    bucket: str,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> list[str]:
    """Upload ``(local path, key)`` pairs to one bucket; returns their URIs in order."""
    s3 = _s3(session, endpoint_url, region)
    uris = []
    for path, key in files:
        try:
            s3.upload_file(str(path), bucket, key)
        except (ClientError, S3UploadFailedError) as exc:
            raise UploadError(f"could not upload {path} to s3://{bucket}/{key}: {exc}") from exc
        uris.append(f"s3://{bucket}/{key}")
    return uris


def object_url(bucket: str, key: str, region: str) -> str:
    """The HTTPS URL of an object, the form CloudFormation's TemplateURL takes."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def empty_bucket(
    bucket: str,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> int:
    """Delete every object version and delete marker of a bucket, so it can be deleted.

    Parameters
    ----------
    bucket : str
        The bucket.
    session, endpoint_url, region
        Where (see :func:`medallion.aws.client`).

    Returns
    -------
    int
        How many versions and delete markers were deleted.

    Raises
    ------
    BucketNotFoundError
        The bucket does not exist.
    """
    s3 = _s3(session, endpoint_url, region)
    deleted = 0
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        batch: list[dict[str, str]] = []
        for page in pages:
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                batch.append({"Key": item["Key"], "VersionId": item["VersionId"]})
                if len(batch) == DELETE_BATCH:
                    deleted += _delete(s3, bucket, batch)
                    batch = []
        if batch:
            deleted += _delete(s3, bucket, batch)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchBucket":
            raise BucketNotFoundError(f"bucket {bucket} does not exist") from exc
        raise
    return deleted


def _delete(s3: Any, bucket: str, batch: list[dict[str, str]]) -> int:
    response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    errors = response.get("Errors", [])
    if errors:
        first = errors[0]
        raise AwsError(
            f"could not delete s3://{bucket}/{first['Key']}: {first.get('Message', first)}"
        )
    return len(batch)
