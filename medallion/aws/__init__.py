"""AWS service helpers, one module per service; each public function takes an optional session."""

from __future__ import annotations

import weakref
from typing import Any

import boto3
from botocore.config import Config

_CLIENTS: weakref.WeakKeyDictionary[boto3.Session, dict[tuple[str, str | None, str | None], Any]]
_CLIENTS = weakref.WeakKeyDictionary()
RETRIES = Config(retries={"max_attempts": 8, "mode": "adaptive"})


class AwsError(Exception):
    """Base of the named errors these modules raise; the message is meant for the user."""


class CredentialsError(AwsError):
    """No usable AWS credentials or region."""


def client(
    service: str,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> Any:
    """A boto3 client of one service.

    Parameters
    ----------
    service : str
        The service name, e.g. ``"s3"``.
    session : boto3.Session, optional
        The session to use; a default session (environment, profile, instance role) otherwise.
    endpoint_url : str, optional
        Another endpoint, e.g. a moto server on 127.0.0.1. boto3 also reads ``AWS_ENDPOINT_URL``.
    region : str, optional
        The region; the session's otherwise.

    Returns
    -------
    botocore.client.BaseClient
        The client, with adaptive retries.
    """
    if session is None:
        session = boto3.Session(region_name=region)
        return session.client(
            service, endpoint_url=endpoint_url, region_name=region, config=RETRIES
        )
    # A client is costly to build (its service model is parsed): keep one per session and target.
    cache = _CLIENTS.setdefault(session, {})
    key = (service, endpoint_url, region)
    if key not in cache:
        cache[key] = session.client(
            service, endpoint_url=endpoint_url, region_name=region, config=RETRIES
        )
    return cache[key]


class DeployError(AwsError):
    """A deploy or destroy cannot go on; the message says why and what to do."""


class DeployInputError(DeployError):
    """What the deploy was given cannot be deployed (environment name, parameters, email)."""


class Aborted(AwsError):
    """The user declined the change set."""
