"""How a local observation becomes an IAM request: lake paths to S3 ARNs, API calls to actions,
state machine integrations to the actions AWS documents for them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import sqlglot
from sqlglot import exp

from medallion.access.model import STATE_MACHINE_ROLE, Access
from medallion.local import dialects

P, R, A = "${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}"
LAKE_BUCKET = f"arn:{P}:s3:::${{LakeBucket}}"
RESULTS_BUCKET = f"arn:{P}:s3:::${{AthenaResultsBucket}}"
DATA_KEY = f"arn:{P}:kms:{R}:{A}:key/${{DataKey}}"
GLUE = f"arn:{P}:glue:{R}:{A}"
ATHENA = f"arn:{P}:athena:{R}:{A}"
VIA_S3 = ("kms:ViaService", f"s3.{R}.amazonaws.com")

# What a local lake holds that S3 never sees: the DuckDB catalog, the job logs and alert copies
# the local services write, and Hadoop's LocalFileSystem checksum files (``.name.crc``).
LOCAL_ONLY_PREFIXES = ("_catalog/", "_meta/logs/", "_meta/alerts/")
_CRC = re.compile(r"(^|/)\.[^/]*\.crc$")

# inotify kinds -> S3 actions (each also uses the bucket key through S3, see s3_accesses).
S3_ACTIONS = {
    "list": "s3:ListBucket",
    "read": "s3:GetObject",
    "write": "s3:PutObject",
    "delete": "s3:DeleteObject",
}
_KMS_FOR = {"read": "kms:Decrypt", "write": "kms:GenerateDataKey"}


def lake_key(relative: str) -> str | None:
    """The S3 key of a path relative to the lake root, or None when S3 would not have it."""
    key = relative.replace("\\", "/").strip("/")
    if any((key + "/").startswith(p) for p in LOCAL_ONLY_PREFIXES) or _CRC.search(key):
        return None
    return key


def s3_accesses(principal: str, kind: str, key: str, source: str = "inotify") -> list[Access]:
    """The requests one lake operation is on S3.

    A directory listing is ``s3:ListBucket`` on the bucket with the ``s3:prefix`` condition key
    (S3A lists ``<dir>/``; the root lists ``""``); a read, write or delete is the object action
    on ``bucket/key``. Objects are SSE-KMS with the stack's key, so a read also needs
    ``kms:Decrypt`` and a write ``kms:GenerateDataKey``, both through S3 (``kms:ViaService``).
    """
    if kind == "list":
        prefix = f"{key}/" if key else ""
        return [
            Access(principal, S3_ACTIONS["list"], LAKE_BUCKET, (("s3:prefix", prefix),), source)
        ]
    out = [Access(principal, S3_ACTIONS[kind], f"{LAKE_BUCKET}/{key}", (), source)]
    if kind in _KMS_FOR:
        out.append(Access(principal, _KMS_FOR[kind], DATA_KEY, (VIA_S3,), source))
    return out


# A lake key's variable parts: partition values, run ids, Spark's task and file ids.
_VARIABLE = [
    # Spark's scratch trees under an output prefix (.spark-staging-<uuid>/, _temporary/) vary in
    # depth from run to run (task attempts, dynamic partition overwrite); IAM sees one prefix.
    (re.compile(r"/(\.spark-staging-|_temporary)[^/]*/.*$"), "/_scratch/*"),
    (re.compile(r"=[^/]*"), "=*"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "*"),
    # run ids (run-20261201T233248Z-bfb146), attempt and task ids: any token with a digit
    (re.compile(r"[0-9a-zA-Z]*\d[0-9a-zA-Z]*"), "0"),
]


def pattern(text: str) -> str:
    """A resource or prefix with its variable parts masked, to group like accesses."""
    for regex, replacement in _VARIABLE:
        text = regex.sub(replacement, text)
    return text


def group_key(access: Access) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    """What makes two accesses alike: principal, action, masked resource and context."""
    context = tuple((k, pattern(v)) for k, v in access.context)
    return access.principal, access.action, pattern(access.resource), context


def collapse(accesses: Iterable[Access]) -> list[Access]:
    """One representative access (the first in sorted order) per :func:`group_key`.

    Thousands of part files under date partitions ask IAM the same question; the simulator
    and the shipped record need one of each.
    """
    seen: dict[Any, Access] = {}
    for access in sorted(set(accesses)):
        seen.setdefault(group_key(access), access)
    return sorted(seen.values())


# --- API calls ---------------------------------------------------------------------------------
# botocore operation names are the IAM action names for the services used here, except these.
_ACTION_OVERRIDES = {("s3", "HeadObject"): "s3:GetObject", ("s3", "ListObjectsV2"): "s3:ListBucket"}


def api_action(service: str, operation: str) -> str:
    """The IAM action of a botocore call (``secretsmanager``, ``GetSecretValue``)."""
    return _ACTION_OVERRIDES.get((service, operation), f"{service}:{operation}")


def api_resource(service: str, operation: str, params: Mapping[str, Any]) -> str:
    """The ARN template an API call's resource has (``*`` when the call names none)."""
    if service == "secretsmanager" and "SecretId" in params:
        return str(params["SecretId"])
    if service == "glue":
        database = params.get("DatabaseName")
        table = params.get("TableName") or (params.get("TableInput") or {}).get("Name")
        if database and table:
            return f"{GLUE}:table/{database}/{table}"
        if database:
            return f"{GLUE}:database/{database}"
        if "Name" in params and "Crawler" in operation:
            return f"{GLUE}:crawler/{params['Name']}"
        if "JobName" in params:
            return f"{GLUE}:job/{params['JobName']}"
        return f"{GLUE}:catalog"
    if service == "athena" and "WorkGroup" in params:
        return f"{ATHENA}:workgroup/{params['WorkGroup']}"
    if service == "sns" and "TopicArn" in params:
        return str(params["TopicArn"])
    return "*"


# --- the state machine's integrations ----------------------------------------------------------
# https://docs.aws.amazon.com/step-functions/latest/dg/connect-glue.html ("IAM policies for
# calling AWS Glue", Run a Job (.sync)): StartJobRun, GetJobRun, GetJobRuns, BatchStopJobRun.
GLUE_SYNC = ("glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun")
# https://docs.aws.amazon.com/step-functions/latest/dg/athena-iam.html ("IAM policies for calling
# Amazon Athena", StartQueryExecution, Run a Job (.sync)): the query actions and GetDataCatalog on
# the workgroup and data catalog; on the output location GetBucketLocation, GetObject, ListBucket,
# ListBucketMultipartUploads, ListMultipartUploadParts, AbortMultipartUpload, PutObject; the Glue
# catalog actions the query needs; lakeformation:GetDataAccess. The page grants every Glue catalog
# action on every table; a view's DDL uses the ones below on its database, so only those are asked.
ATHENA_SYNC_QUERY = (
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
    "athena:GetQueryExecution",
)
ATHENA_SYNC_RESULTS_OBJECT = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
ATHENA_SYNC_RESULTS_BUCKET = ("s3:GetBucketLocation", "s3:ListBucketMultipartUploads")
VIEW_DDL_GLUE = ("glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable")


def definition_tasks(definition: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(name, state) of every Task state, in Parallel branches and Map processors too."""
    for name, state in definition.get("States", {}).items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from definition_tasks(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from definition_tasks(state[key])


def integration_accesses(
    definition: Mapping[str, Any],
    results_prefix: str = "results/",
    databases: Mapping[str, str] | None = None,
) -> list[Access]:
    """What the state machine's role is asked for by each Task state of a deployed definition.

    Parameters
    ----------
    definition
        The state machine definition with the stack's names in it (templatize them first).
    results_prefix
        The key prefix of the workgroup's enforced output location in the results bucket.
    databases
        Glue database name -> its placeholder (``{"gold": "${GoldDatabase}"}``): a database's
        name is too short to replace in text, so it is mapped where it is used.
    """
    out: list[Access] = []
    role = STATE_MACHINE_ROLE

    def add(actions: Iterable[str], resource: str, *context: tuple[str, str]) -> None:
        out.extend(Access(role, a, resource, tuple(context), "definition") for a in actions)

    for _, state in definition_tasks(definition):
        resource = str(state["Resource"]).split(":::", 1)[-1]
        params = state.get("Parameters") or state.get("Arguments") or {}
        if resource == "glue:startJobRun.sync":
            add(GLUE_SYNC, f"{GLUE}:job/{params['JobName']}")
        elif resource.startswith("aws-sdk:glue:"):
            operation = resource.split(":")[-1]
            add([f"glue:{operation[0].upper()}{operation[1:]}"], f"{GLUE}:crawler/{params['Name']}")
        elif resource == "athena:startQueryExecution.sync":
            add(ATHENA_SYNC_QUERY, f"{ATHENA}:workgroup/{params['WorkGroup']}")
            add(["athena:GetDataCatalog"], f"{ATHENA}:datacatalog/AwsDataCatalog")
            add(ATHENA_SYNC_RESULTS_BUCKET, RESULTS_BUCKET)
            add(["s3:ListBucket"], RESULTS_BUCKET, ("s3:prefix", results_prefix))
            add(ATHENA_SYNC_RESULTS_OBJECT, f"{RESULTS_BUCKET}/{results_prefix}query-id.csv")
            add(["kms:GenerateDataKey", "kms:Decrypt"], DATA_KEY, VIA_S3)
            add(["lakeformation:GetDataAccess"], "*")
            out.extend(_view_ddl(role, params, databases or {}))
        elif resource == "aws-sdk:s3:getObject":
            # One object read by key; an SSE-KMS object is decrypted through S3.
            add(["s3:GetObject"], f"arn:{P}:s3:::{params['Bucket']}/{_object_key(params)}")
            add(["kms:Decrypt"], DATA_KEY, VIA_S3)
        elif resource == "sns:publish":
            add(["sns:Publish"], str(params["TopicArn"]))
            # An SSE-KMS topic: SNS uses the key on the publisher's behalf.
            add(
                ["kms:GenerateDataKey", "kms:Decrypt"],
                DATA_KEY,
                ("kms:ViaService", f"sns.{R}.amazonaws.com"),
            )
        else:
            raise ValueError(f"no IAM mapping for the integration {state['Resource']!r}")
    return sorted(set(out))


def _object_key(params: Mapping[str, Any]) -> str:
    """An object Task's key: the text of ``Key.$``'s ``States.Format`` with each ``{}`` an
    example run id (``run-1``; :func:`pattern` masks it)."""
    found = re.fullmatch(r"States\.Format\('([^']*)'.*\)", str(params.get("Key.$", "")))
    if not found:
        raise ValueError(f"no IAM mapping for the object key of {dict(params)!r}")
    return found.group(1).replace("{}", "run-1")


def _view_ddl(role: str, params: Mapping[str, Any], databases: Mapping[str, str]) -> list[Access]:
    """A ``CREATE OR REPLACE VIEW``: Glue reads of what it selects from, a write of the view."""
    database = params.get("QueryExecutionContext", {}).get("Database", "")
    database = databases.get(database, database)
    tree = sqlglot.parse_one(str(params["QueryString"]), read=dialects.ATHENA)
    created = tree.this.name if isinstance(tree.this, exp.Table) else ""
    ctes = {c.alias for c in tree.find_all(exp.CTE)}
    read = {t.name for t in tree.find_all(exp.Table) if t.name not in ctes and t.name != created}
    scope = [f"{GLUE}:catalog", f"{GLUE}:database/{database}"]
    out = [Access(role, "glue:GetDatabase", r, (), "definition") for r in scope]
    for action in VIEW_DDL_GLUE[1:]:
        for r in [*scope, f"{GLUE}:table/{database}/{created}"]:
            out.append(Access(role, action, r, (), "definition"))
    for table in sorted(read):
        out.append(
            Access(role, "glue:GetTable", f"{GLUE}:table/{database}/{table}", (), "definition")
        )
    return out


def templatize(value: Any, names: Mapping[str, str]) -> Any:
    """``value`` (text or JSON-like) with each concrete name replaced by its ``${placeholder}``.

    ``names`` maps placeholder -> concrete value (``{"LakeBucket": "medallion-dev-lake-..."}``);
    longer values are replaced first so an ARN wins over the name inside it.
    """
    text = json.dumps(value) if not isinstance(value, str) else value
    for placeholder, concrete in sorted(names.items(), key=lambda kv: -len(kv[1])):
        if concrete:
            text = text.replace(concrete, "${" + placeholder + "}")
    return text if isinstance(value, str) else json.loads(text)
