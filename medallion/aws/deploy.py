"""Deploy an environment: package and upload the code, then create or update its stack."""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from rich.console import Console
from rich.table import Table

from infra.stack import ENV_PATTERN, REQUIRED_OUTPUTS, render
from medallion import REPO_ROOT
from medallion.aws import Aborted, DeployError, DeployInputError, s3
from medallion.aws import cloudformation as cfn
from medallion.aws.package import package
from medallion.aws.stack import Target, apply_template, check_credentials, guard, region_of

INLINE_TEMPLATE_LIMIT = 51_200
__all__ = ["Aborted", "DeployError", "DeployInputError", "Target", "deploy"]


def _existing(target: Target) -> cfn.Stack:
    stack = cfn.describe_stack(target.stack, **target.aws())
    if stack is None:
        raise DeployError(f"stack {target.stack} disappeared while deploying")
    return stack


def _parameter_values(
    target: Target,
    stack: cfn.Stack,
    body: str,
    alert_email: str | None,
    parameters: Mapping[str, str],
) -> dict[str, str | None]:
    """The change set's parameters: the given ones, the rest kept from the last deploy."""
    known = set(json.loads(body)["Parameters"])
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise DeployInputError(
            f"unknown stack parameter(s) {', '.join(unknown)}; "
            f"the stack takes {', '.join(sorted(known))}"
        )
    values: dict[str, str | None] = {"Environment": target.env, **parameters}
    values["AlertEmail"] = alert_email or values.get("AlertEmail")
    for key in stack.parameters:
        values.setdefault(key, None)  # None: UsePreviousValue
    return {key: value for key, value in values.items() if key in known}


def _scripts_bucket(target: Target, stack: cfn.Stack) -> str:
    """The scripts bucket, from the outputs or else from the stack's resources."""
    if "ScriptsBucketName" in stack.outputs:
        return stack.outputs["ScriptsBucketName"]
    buckets = cfn.stack_resources(stack.stack_id, "AWS::S3::Bucket", **target.aws())
    if "ScriptsBucket" not in buckets:
        raise DeployError(f"stack {stack.name} has no scripts bucket; was it created by medallion?")
    return buckets["ScriptsBucket"]


def _upload(target: Target, bucket: str, console: Console, root: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="medallion-deploy-") as build:
        pkg = package(root, Path(build))
        s3.upload_files(pkg.files, bucket, **target.aws())
    console.print(
        f"uploaded {len(pkg.files)} files to s3://{bucket}/ (jobs, jobs.zip, contracts, sql)"
    )


def _upload_template(target: Target, bucket: str, body: str) -> str:
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    key = f"cloudformation/{target.stack}-{digest}.json"
    with tempfile.TemporaryDirectory(prefix="medallion-template-") as build:
        path = Path(build) / "template.json"
        path.write_text(body, encoding="utf-8")
        # SSE-S3, not the stack's key: CloudFormation reads it with the caller's credentials.
        s3.upload_file(
            path, bucket, key, extra_args={"ServerSideEncryption": "AES256"}, **target.aws()
        )
    return s3.object_url(bucket, key, region_of(target))


def _compact(template_text: str) -> str:
    return json.dumps(json.loads(template_text), separators=(",", ":"), sort_keys=True)


def deploy(
    target: Target,
    *,
    alert_email: str | None,
    console: Console,
    confirm: Callable[[str], bool],
    parameters: Mapping[str, str] | None = None,
    root: Path = REPO_ROOT,
) -> dict[str, str]:
    """Create or update an environment's stack and upload what its jobs and views read.

    A first deploy creates the storage part of the stack (same logical ids) so the scripts bucket
    exists; then the code is uploaded, and the whole template (too big to send inline) is applied
    from that bucket as an update.

    Parameters
    ----------
    target : Target
        Environment, region, endpoint and session.
    alert_email : str or None
        Who is emailed on failures; required on the first deploy, kept from the last otherwise.
    console : Console
        Where progress is printed.
    confirm : callable
        Asked before each change set is executed.
    parameters : mapping, optional
        Other stack parameters (``GlueMaxWorkers``, ``Schedule``...).
    root : Path
        The repository root to package.

    Returns
    -------
    dict
        The stack's outputs.

    Raises
    ------
    CredentialsError, DeployError, Aborted
        With a message that says what to do.
    """
    _check_environment(target.env)
    identity = check_credentials(target)
    console.print(f"deploying [bold]{target.stack}[/bold] as {identity}")
    stack = cfn.describe_stack(target.stack, **target.aws())
    guard(stack, target.env)
    creating = stack is None or stack.status == "REVIEW_IN_PROGRESS"
    needs_email = creating or (stack is not None and "AlertEmail" not in stack.parameters)
    if needs_email and not alert_email:
        raise DeployInputError(
            "an alert email is required for a new stack: pass --alert-email ops@example.com "
            "(or set MEDALLION_ALERT_EMAIL); failed runs are emailed there"
        )
    if creating:
        console.print("new stack: creating its storage (key, buckets, secret) first")
        apply_template(
            target,
            change_set_type="CREATE",
            parameters={"Environment": target.env},
            template_body=_compact(render(target.env, bootstrap=True)),
            console=console,
            confirm=confirm,
        )
    stack = _existing(target)
    bucket = _scripts_bucket(target, stack)
    _upload(target, bucket, console, root)
    body = _compact(render(target.env))
    values = _parameter_values(target, stack, body, alert_email, parameters or {})
    _apply_update(target, bucket, body, values, console=console, confirm=confirm)
    stack = _existing(target)
    _print_outputs(console, stack.outputs)
    if creating:
        console.print(f"[yellow]Confirm the subscription email sent to {alert_email}.[/yellow]")
    return stack.outputs


def _check_environment(env: str) -> None:
    if not re.fullmatch(ENV_PATTERN, env):
        raise DeployInputError(
            f"environment {env!r}: use 2-10 lower-case letters or digits, starting with a "
            "letter (it becomes part of bucket names)"
        )


def _apply_update(
    target: Target,
    bucket: str,
    body: str,
    values: Mapping[str, str | None],
    *,
    console: Console,
    confirm: Callable[[str], bool],
) -> None:
    """The whole template as an update: inline when small enough, else from the scripts bucket."""
    where = (
        {"template_url": _upload_template(target, bucket, body)}
        if len(body.encode()) > INLINE_TEMPLATE_LIMIT
        else {"template_body": body}
    )
    apply_template(
        target,
        change_set_type="UPDATE",
        parameters=values,
        console=console,
        confirm=confirm,
        **where,
    )


def _print_outputs(console: Console, outputs: Mapping[str, str]) -> None:
    table = Table(title="stack outputs")
    table.add_column("output")
    table.add_column("value")
    for key in sorted(outputs, key=lambda k: (k not in REQUIRED_OUTPUTS, k)):
        table.add_row(key, outputs[key])
    console.print(table)
