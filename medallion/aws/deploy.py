"""Deploys an environment: packages the jobs, uploads them, and creates or updates its stack."""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TypedDict

import boto3
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError
from rich.console import Console
from rich.table import Table

from infra.common import LAYERS
from infra.stack import ENV_PATTERN, REQUIRED_OUTPUTS, render
from medallion.aws import AwsError, CredentialsError, client, s3
from medallion.aws import cloudformation as cfn
from medallion.aws.stack import stack_name

REPO_ROOT = Path(__file__).resolve().parents[2]
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same code gives the same jobs.zip
INLINE_TEMPLATE_LIMIT = 51_200


class DeployError(AwsError):
    """A deploy or destroy cannot go on; the message says why and what to do."""


class Aborted(AwsError):
    """The user declined the change set."""


class AwsArgs(TypedDict):
    """How every medallion.aws call reaches AWS."""

    session: boto3.Session | None
    endpoint_url: str | None
    region: str | None


@dataclass(frozen=True)
class Target:
    """Where to deploy: the environment, and how to reach AWS."""

    env: str
    region: str | None = None
    endpoint_url: str | None = None
    session: boto3.Session | None = None
    poll_seconds: float = 5.0

    @property
    def stack(self) -> str:
        """The stack name, ``medallion-<env>``."""
        return stack_name(self.env)

    @cached_property
    def _session(self) -> boto3.Session:
        # One session for the whole command: creating one per call costs more than the call.
        return self.session or boto3.Session(region_name=self.region)

    def aws(self) -> AwsArgs:
        """The keyword arguments of every medallion.aws call."""
        return {"session": self._session, "endpoint_url": self.endpoint_url, "region": self.region}


@dataclass(frozen=True)
class Package:
    """The files a deploy uploads to the scripts bucket: local path to key."""

    files: list[tuple[Path, str]] = field(default_factory=list)

    def keys(self) -> list[str]:
        """The S3 keys, in upload order."""
        return [key for _, key in self.files]


def build_jobs_zip(root: Path, out: Path) -> Path:
    """Zip the ``jobs`` package for Glue's ``--extra-py-files``, byte-for-byte reproducibly.

    Parameters
    ----------
    root : Path
        The repository root (holding ``jobs/``).
    out : Path
        The zip to write.

    Returns
    -------
    Path
        ``out``.
    """
    sources = sorted(
        p
        for p in (root / "jobs").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in {".py", ".yaml", ".json"}
    )
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sources:
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_DEFLATED)
    return out


def package(root: Path, build_dir: Path) -> Package:
    """Everything the stack's jobs and state machine read from the scripts bucket.

    Parameters
    ----------
    root : Path
        The repository root.
    build_dir : Path
        Where to write ``jobs.zip``.

    Returns
    -------
    Package
        Entry scripts (``jobs/<layer>/job.py``), ``jobs.zip``, ``contracts/`` and ``sql/``.
    """
    files = [(root / "jobs" / layer / "job.py", f"jobs/{layer}/job.py") for layer in LAYERS]
    missing = [str(path) for path, _ in files if not path.is_file()]
    if missing:
        raise DeployError(f"entry script(s) missing: {', '.join(missing)}")
    files.append((build_jobs_zip(root, build_dir / "jobs.zip"), "jobs.zip"))
    for folder, patterns in (("contracts", ("*.yaml", "*.yml")), ("sql", ("*.sql", "*.yml"))):
        found = sorted({p for pattern in patterns for p in (root / folder).rglob(pattern)})
        files += [(p, f"{folder}/{p.relative_to(root / folder).as_posix()}") for p in found]
    return Package(files)


def check_credentials(target: Target) -> str:
    """The caller's ARN; fails clearly when there are no credentials or no region.

    Parameters
    ----------
    target : Target
        Where to deploy.

    Returns
    -------
    str
        The ARN of the identity the calls are made as.

    Raises
    ------
    CredentialsError
        No credentials, no region, or credentials AWS rejects.
    """
    try:
        return str(client("sts", **target.aws()).get_caller_identity()["Arn"])
    except NoCredentialsError as exc:
        raise CredentialsError(
            "No AWS credentials found. Set AWS_PROFILE (after `aws sso login` or `aws configure`), "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
        ) from exc
    except NoRegionError as exc:
        raise CredentialsError("No AWS region: pass --region or set AWS_REGION.") from exc
    except ClientError as exc:
        raise CredentialsError(f"AWS rejected the credentials: {exc}") from exc


def _region(target: Target) -> str:
    return str(client("cloudformation", **target.aws()).meta.region_name)


def _guard(stack: cfn.Stack | None, env: str) -> None:
    """Refuse to deploy a stack that is failed or busy, saying what to do instead."""
    if stack is None:
        return
    if stack.status in cfn.FAILED_STATES:
        hint = (
            f"run `aws cloudformation continue-update-rollback --stack-name {stack.name}`, "
            "then deploy again"
            if stack.status == "UPDATE_ROLLBACK_FAILED"
            else "see its events in the CloudFormation console, run "
            f"`medallion destroy --env {env}`, then deploy again"
        )
        reason = f" ({stack.reason})" if stack.reason else ""
        raise DeployError(f"stack {stack.name} is in {stack.status}{reason}: {hint}.")
    if stack.status.endswith("_IN_PROGRESS") and stack.status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"stack {stack.name} is busy ({stack.status}); wait and try again.")


def _show_changes(console: Console, change_set: cfn.ChangeSet) -> None:
    table = Table(title=f"{change_set.stack_name}: change set ({change_set.change_set_type})")
    for column in ("action", "logical id", "type", "replacement"):
        table.add_column(column)
    for change in change_set.changes:
        table.add_row(change.action, change.logical_id, change.resource_type, change.replacement)
    console.print(table)


def apply_template(
    target: Target,
    *,
    change_set_type: str,
    parameters: Mapping[str, str | None],
    console: Console,
    confirm: Callable[[str], bool],
    template_body: str | None = None,
    template_url: str | None = None,
) -> bool:
    """Create a change set, show it, and (once confirmed) execute it and follow it to the end.

    Parameters
    ----------
    target : Target
        Where.
    change_set_type : str
        ``CREATE`` or ``UPDATE``.
    parameters : mapping
        Stack parameters; ``None`` keeps the previous value.
    console : Console
        Where progress is printed.
    confirm : callable
        Asked with a question before executing; return False to abort.
    template_body, template_url : str, optional
        The template, inline or in S3.

    Returns
    -------
    bool
        True if the stack changed, False if it was already up to date.
    """
    try:
        change_set = cfn.create_change_set(
            target.stack,
            change_set_type=change_set_type,
            parameters=parameters,
            template_body=template_body,
            template_url=template_url,
            tags={"project": "medallion", "environment": target.env},
            poll_seconds=min(target.poll_seconds, 2.0),
            **target.aws(),
        )
    except cfn.NoChangesError:
        console.print(f"[green]{target.stack} is up to date: no changes.[/green]")
        return False
    _show_changes(console, change_set)
    if not confirm(f"Apply these {len(change_set.changes)} change(s) to {target.stack}?"):
        cfn.delete_change_set(change_set, **target.aws())
        raise Aborted("deploy cancelled: the change set was deleted, nothing changed")
    started = datetime.now(UTC)
    cfn.execute_change_set(change_set, **target.aws())
    _follow(target, change_set.stack_id, started, console)
    return True


def _follow(target: Target, stack_id: str, started: datetime, console: Console) -> cfn.Stack:
    with console.status(f"{target.stack}: waiting") as status:

        def on_event(event: cfn.StackEvent) -> None:
            colour = "red" if event.status.endswith("FAILED") else "dim"
            reason = f" {event.reason}" if event.reason else ""
            console.print(
                f"[{colour}]{event.timestamp:%H:%M:%S} {event.logical_id} "
                f"{event.status}{reason}[/{colour}]"
            )

        try:
            return cfn.wait_for_stack(
                stack_id,
                on_event=on_event,
                on_status=lambda s: status.update(f"{target.stack}: {s}"),
                since=started.replace(microsecond=0),
                poll_seconds=target.poll_seconds,
                **target.aws(),
            )
        except cfn.StackOperationError as exc:
            raise DeployError(str(exc)) from exc


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
        raise DeployError(
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
    return s3.object_url(bucket, key, _region(target))


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
    if not re.fullmatch(ENV_PATTERN, target.env):
        raise DeployError(
            f"environment {target.env!r}: use 2-10 lower-case letters or digits, starting with a "
            "letter (it becomes part of bucket names)"
        )
    identity = check_credentials(target)
    console.print(f"deploying [bold]{target.stack}[/bold] as {identity}")
    stack = cfn.describe_stack(target.stack, **target.aws())
    _guard(stack, target.env)
    creating = stack is None or stack.status == "REVIEW_IN_PROGRESS"
    needs_email = creating or (stack is not None and "AlertEmail" not in stack.parameters)
    if needs_email and not alert_email:
        raise DeployError(
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
    if len(body.encode()) > INLINE_TEMPLATE_LIMIT:
        apply_template(
            target,
            change_set_type="UPDATE",
            parameters=values,
            console=console,
            confirm=confirm,
            template_url=_upload_template(target, bucket, body),
        )
    else:
        apply_template(
            target,
            change_set_type="UPDATE",
            parameters=values,
            console=console,
            confirm=confirm,
            template_body=body,
        )
    stack = _existing(target)
    _print_outputs(console, stack.outputs)
    if creating:
        console.print(f"[yellow]Confirm the subscription email sent to {alert_email}.[/yellow]")
    return stack.outputs


def _print_outputs(console: Console, outputs: Mapping[str, str]) -> None:
    table = Table(title="stack outputs")
    table.add_column("output")
    table.add_column("value")
    for key in sorted(outputs, key=lambda k: (k not in REQUIRED_OUTPUTS, k)):
        table.add_row(key, outputs[key])
    console.print(table)


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
        _follow(target, stack.stack_id, started, console)
    except DeployError:
        # S3 delivers access logs minutes late: a bucket emptied above may have filled again.
        console.print("[yellow]delete failed; emptying the buckets again, retrying[/yellow]")
        _empty(target, sorted(buckets.values()), console)
        started = datetime.now(UTC)
        cfn.delete_stack(stack.stack_id, **target.aws())
        _follow(target, stack.stack_id, started, console)
    console.print(f"[green]{target.stack} deleted.[/green]")
    return True
