"""The three Glue 5.1 jobs, bronze, silver and gold, each with a least-privilege role; the
bronze job runs through the database connection when the stack has a database source."""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import GetAtt, Ref, Sub, Template, glue, iam

from infra.catalog import Catalog
from infra.common import LAYERS, name, s3_uri
from infra.database import Database, bronze_connections, bronze_secret_argument
from infra.iam import service_role
from infra.policies.jobs import glue_job_policy
from infra.storage import Storage

GLUE_VERSION = "5.1"

# What a Glue 5.x job can import without shipping it, by top-level import name: the Spark runtime
# and AWS Glue's library, and the "Python modules already provided in AWS Glue" list,
# https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html#glue-modules-provided
# The page lists version 5.0 (5.1 is the same Python 3.11 image; its list is not on the page as
# read), and PyYAML, provided up to 4.0, is not in it: the jobs ship it below.
GLUE_PROVIDED_MODULES = frozenset(
    {
        *("pyspark", "py4j", "awsglue"),
        *("aiobotocore", "aiohttp", "aioitertools", "aiosignal", "appdirs", "attr", "attrs"),
        *("boto3", "botocore", "certifi", "charset_normalizer", "contourpy", "cycler"),
        *("fontTools", "frozenlist", "fsspec", "idna", "jmespath", "kaleido", "kiwisolver"),
        *("matplotlib", "multidict", "numpy", "packaging", "pandas", "PIL", "pip", "plotly"),
        *("pyarrow", "pyparsing", "dateutil", "pytz", "requests", "s3fs", "s3transfer"),
        *("seaborn", "setuptools", "six", "tenacity", "tzdata", "urllib3", "virtualenv"),
        *("wrapt", "yarl"),
    }
)
# Modules the jobs import that Glue does not provide, by import name: pip installs them when a
# run starts (--additional-python-modules), pinned to the version the local runs use. SciPy
# (gold's customer-value fit) is not on the provided list; 1.17.1 runs on the numpy 1.26 the
# jobs use.
ADDITIONAL_PYTHON_MODULES = {"yaml": "pyyaml==6.0.3", "scipy": "scipy==1.17.1"}


@dataclass(frozen=True)
class Jobs:
    """The job resources and their names."""

    jobs: dict[str, glue.Job]
    names: dict[str, Sub]
    roles: dict[str, iam.Role]


@dataclass(frozen=True)
class JobSettings:
    """The stack parameters that size and bound the jobs."""

    worker_type: Ref
    max_workers: Ref
    timeout_minutes: Ref


def default_arguments(
    layer: str, storage: Storage, database: Database | None = None
) -> dict[str, object]:
    """A job's DefaultArguments: Glue features, the package zip and the job interface's options.

    Parameters
    ----------
    layer : str
        ``bronze``, ``silver`` or ``gold``.
    storage : Storage
        The lake and scripts buckets and the PII salt secret.
    database : Database, optional
        The database source: bronze gets its secret's ARN as ``--jdbc_secret``.

    Returns
    -------
    dict
        Argument name to value, as Glue takes them.
    """
    args: dict[str, object] = {
        "--job-language": "python",
        "--extra-py-files": s3_uri(storage.scripts, "jobs.zip"),
        "--additional-python-modules": ",".join(sorted(ADDITIONAL_PYTHON_MODULES.values())),
        "--TempDir": s3_uri(storage.scripts, f"temporary/{layer}/"),
        "--enable-auto-scaling": "true",
        "--enable-metrics": "true",
        "--enable-observability-metrics": "true",
        "--enable-continuous-cloudwatch-log": "true",
        "--enable-continuous-log-filter": "true",
        "--enable-spark-ui": "false",
        "--lake_root": s3_uri(storage.lake),
    }
    # Every layer reads the contracts: gold takes silver's column types from them.
    args["--contracts_root"] = s3_uri(storage.scripts, "contracts/")
    if layer == "silver":
        args["--pii_salt_secret"] = Ref(storage.pii_salt)
    if layer == "bronze" and database is not None:
        args["--jdbc_secret"] = bronze_secret_argument(database)
    return args


def add_jobs(
    template: Template,
    storage: Storage,
    catalog: Catalog,
    settings: JobSettings,
    database: Database | None = None,
) -> Jobs:
    """Add a role and a Glue job per layer.

    Parameters
    ----------
    template : Template
        The template to add to.
    storage : Storage
        Buckets, key and secret.
    catalog : Catalog
        The Glue security configuration.
    settings : JobSettings
        Worker type, maximum workers and timeout parameters.
    database : Database, optional
        The database source the bronze job reads through its connection.

    Returns
    -------
    Jobs
        The jobs added and their names.
    """
    jobs: dict[str, glue.Job] = {}
    names: dict[str, Sub] = {}
    roles: dict[str, iam.Role] = {}
    for layer in LAYERS:
        title = layer.capitalize()
        role = roles[layer] = template.add_resource(
            service_role(
                f"{title}JobRole",
                f"the {layer} Glue job",
                "glue.amazonaws.com",
                f"{layer}-job",
                glue_job_policy(
                    layer,
                    lake_bucket_arn=GetAtt(storage.lake, "Arn"),
                    scripts_bucket_arn=GetAtt(storage.scripts, "Arn"),
                    key_arn=GetAtt(storage.key, "Arn"),
                    secret_arn=Ref(storage.pii_salt) if layer == "silver" else None,
                ),
            )
        )
        names[layer] = name(layer)
        jobs[layer] = template.add_resource(
            glue.Job(
                f"{title}Job",
                Name=names[layer],
                Description=f"medallion {layer} layer (jobs/{layer}/job.py)",
                Role=GetAtt(role, "Arn"),
                GlueVersion=GLUE_VERSION,
                Command=glue.JobCommand(
                    Name="glueetl",
                    PythonVersion="3",
                    ScriptLocation=s3_uri(storage.scripts, f"jobs/{layer}/job.py"),
                ),
                WorkerType=settings.worker_type,
                NumberOfWorkers=settings.max_workers,
                ExecutionProperty=glue.ExecutionProperty(MaxConcurrentRuns=1),
                MaxRetries=0,
                Timeout=settings.timeout_minutes,
                SecurityConfiguration=Ref(catalog.security_configuration),
                DefaultArguments=default_arguments(layer, storage, database),
                **({"Connections": bronze_connections(database)} if layer == "bronze" else {}),
                Tags={"project": "medallion", "environment": Ref("Environment")},
            )
        )
    return Jobs(jobs, names, roles)
