"""Destroy an environment: empty its buckets (every version), then delete its stack."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.console import Console

from medallion.aws import Aborted, DeployError, s3
from medallion.aws import cloudformation as cfn
from medallion.aws.stack import Target, check_credentials, follow


def _empty(target: Target, buckets: list[str], console: Console) -> None:
    for bucket in buckets:
        try:
            count = s3.empty_bucket(bucket, **target.aws())
        except s3.BucketNotFoundError:
            continue
        console.print(f"emptied s3://{bucket}/: {count} object versions and delete markers")


def destroy(target: Target, *, console: Console, confirm: Callable[[str], bool]) -> bool:
    """Empty an environment's buckets (every version) and delete its stack.

    Parameters
    ----------
    target : Target
        Environment, region, endpoint and session.
    console : Console
        Where progress is printed.
    confirm : callable
        Asked once before anything is deleted.

    Returns
    -------
    bool
        True if a stack was deleted, False if there was none.

    Raises
    ------
    CredentialsError, DeployError, Aborted
        With a message that says what to do.
    """
    check_credentials(target)
    stack = cfn.describe_stack(target.stack, **target.aws())
    if stack is None or stack.status == "DELETE_COMPLETE":
        console.print(f"{target.stack} does not exist: nothing to destroy.")
        return False
    if stack.status.endswith("_IN_PROGRESS") and stack.status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"stack {stack.name} is busy ({stack.status}); wait and try again.")
    buckets = cfn.stack_resources(stack.stack_id, "AWS::S3::Bucket", **target.aws())
    listing = ", ".join(sorted(buckets.values())) or "none"
    question = (
        f"Delete stack {target.stack} and EVERY object (all versions) in its buckets: {listing}? "
        "This cannot be undone."
    )
    if not confirm(question):
        raise Aborted("destroy cancelled: nothing was deleted")
    _empty(target, sorted(buckets.values()), console)
    started = datetime.now(UTC)
    cfn.delete_stack(stack.stack_id, **target.aws())
    try:
        follow(target, stack.stack_id, started, console)
    except DeployError:
        # S3 delivers access logs minutes late: a bucket emptied above may have filled again.
        console.print("[yellow]delete failed; emptying the buckets again, retrying[/yellow]")
        _empty(target, sorted(buckets.values()), console)
        started = datetime.now(UTC)
        cfn.delete_stack(stack.stack_id, **target.aws())
        follow(target, stack.stack_id, started, console)
    console.print(f"[green]{target.stack} deleted.[/green]")
    return True
