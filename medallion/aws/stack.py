"""The deployed stack of an environment, as the other commands see it: its outputs."""

from __future__ import annotations

import boto3

from medallion.aws.cloudformation import StackNotFoundError, describe_stack

PROJECT = "medallion"


def stack_name(env: str) -> str:
    """The stack of an environment: ``medallion-<env>``."""
    return f"{PROJECT}-{env}"


def stack_outputs(
    env: str,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> dict[str, str]:
    """The outputs of an environment's stack (``PipelineStateMachineArn``, ``LakeBucketName``...).

    Parameters
    ----------
    env : str
        The environment, e.g. ``dev``.
    session : boto3.Session, optional
        The session to use; the default one otherwise.
    endpoint_url : str, optional
        Another CloudFormation endpoint (a moto server in tests).
    region : str, optional
        The region; the session's otherwise.

    Returns
    -------
    dict
        Output key to value.

    Raises
    ------
    StackNotFoundError
        No stack for that environment: it has not been deployed.
    """
    name = stack_name(env)
    stack = describe_stack(name, session, endpoint_url, region)
    if stack is None or stack.status == "DELETE_COMPLETE":
        raise StackNotFoundError(
            f"stack {name} does not exist: deploy it with `medallion deploy --env {env}`"
        )
    return stack.outputs
