"""Database connections for the jobs: credentials, JDBC URLs, reads, and errors in one line.

Credentials never pass through code, job arguments or logs: on AWS the job gets the id of a
Secrets Manager secret (``--jdbc_secret``, RDS's shape: username, password, host, port,
dbname); locally they come from the environment (``MEDALLION_DB_URL``, a ``postgresql://`` URL,
with ``MEDALLION_DB_PASSWORD`` if the URL has none) or from a JSON file of the same shape
outside the repository (``MEDALLION_DB_SECRET_FILE``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from jobs.common.errors import ConfigurationError, MedallionError
from jobs.common.jdbc_source import DatabaseSource
from jobs.common.runtime import on_glue, region_of_arn

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

URL_SETTING = "MEDALLION_DB_URL"
PASSWORD_SETTING = "MEDALLION_DB_PASSWORD"
SECRET_FILE_SETTING = "MEDALLION_DB_SECRET_FILE"
DEFAULT_PORTS = {"postgresql": 5432, "sqlserver": 1433}
DRIVERS = {
    "postgresql": "org.postgresql.Driver",
    "sqlserver": "com.microsoft.sqlserver.jdbc.SQLServerDriver",
}
# The first line of a driver's exception inside py4j's text: the class and its message.
DRIVER_ERROR = re.compile(
    r"((?:org\.postgresql\.util\.PSQLException|com\.microsoft\.sqlserver\.jdbc\.SQLServerException"
    r"|java\.sql\.SQL\w*Exception|java\.lang\.ClassNotFoundException)"
    r": [^\n]*)"
)


class SourceError(MedallionError):
    """A database source could not be read: the message names the source and the reason."""


@dataclass(frozen=True)
class Credentials:
    """Where a database is and who reads it; the password is kept out of ``repr``."""

    username: str
    password: str = field(repr=False)
    host: str
    port: int
    dbname: str

    @classmethod
    def from_secret(cls, data: dict[str, Any], origin: str) -> Credentials:
        """From a secret's JSON (RDS's shape); ``origin`` names it in errors, never its values."""
        missing = [k for k in ("username", "password", "host", "dbname") if not data.get(k)]
        if missing:
            raise ConfigurationError(f"{origin}: the secret lacks {', '.join(missing)}")
        try:
            port = int(data.get("port") or 0)
        except (TypeError, ValueError):
            raise ConfigurationError(f"{origin}: the secret's port is not a number") from None
        return cls(
            str(data["username"]), str(data["password"]), str(data["host"]), port, data["dbname"]
        )

    def where(self, engine: str) -> str:
        """``host:port/dbname``, for messages."""
        return f"{self.host}:{self.port or DEFAULT_PORTS[engine]}/{self.dbname}"


def jdbc_url(engine: str, credentials: Credentials) -> str:
    """The JDBC URL of the database, without user or password (they go as properties)."""
    port = credentials.port or DEFAULT_PORTS[engine]
    if engine == "sqlserver":
        return (
            f"jdbc:sqlserver://{credentials.host}:{port};databaseName={credentials.dbname};"
            "encrypt=true;trustServerCertificate=false"
        )
    return f"jdbc:postgresql://{credentials.host}:{port}/{credentials.dbname}"


def credentials_from_url(url: str, password: str | None = None) -> Credentials:
    """``postgresql://user[:password]@host[:port]/dbname`` as credentials."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgresql", "postgres", "sqlserver"} or not parts.hostname:
        raise ConfigurationError(f"{URL_SETTING} must look like postgresql://user@host:port/dbname")
    data = {
        "username": unquote(parts.username or ""),
        "password": password if password is not None else unquote(parts.password or ""),
        "host": parts.hostname,
        "port": parts.port or 0,
        "dbname": parts.path.lstrip("/"),
    }
    return Credentials.from_secret(data, URL_SETTING)


def load_credentials(secret_id: str, env: dict[str, str] | None = None) -> Credentials:
    """The database credentials: from the secret on AWS, from the environment locally.

    Raises
    ------
    ConfigurationError
        Naming where the credentials were looked for (never what they hold).
    """
    env = dict(os.environ) if env is None else env
    if secret_id:
        return _from_secrets_manager(secret_id)
    if on_glue():
        raise ConfigurationError("a contract has a database source but --jdbc_secret is not set")
    if env.get(SECRET_FILE_SETTING):
        path = Path(env[SECRET_FILE_SETTING])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{SECRET_FILE_SETTING}: cannot read {path}: {exc}") from None
        return Credentials.from_secret(data, SECRET_FILE_SETTING)
    if env.get(URL_SETTING):
        return credentials_from_url(env[URL_SETTING], env.get(PASSWORD_SETTING))
    raise ConfigurationError(
        f"a contract has a database source: set {URL_SETTING} (postgresql://user@host:port/db, "
        f"password in {PASSWORD_SETTING}) or {SECRET_FILE_SETTING}"
    )


def _from_secrets_manager(secret_id: str) -> Credentials:
    import boto3  # lazy: only a job with a database source on AWS needs it

    client = boto3.client("secretsmanager", region_name=region_of_arn(secret_id))
    try:
        text = client.get_secret_value(SecretId=secret_id)["SecretString"]
    except Exception as exc:  # botocore's errors: the message names the secret, not its value
        raise ConfigurationError(f"cannot read the database secret: {type(exc).__name__}") from None
    return Credentials.from_secret(json.loads(text), "the database secret")


def read_options(source: DatabaseSource, credentials: Credentials) -> dict[str, str]:
    """Spark JDBC options for a source (without the table: see ``read_sql``)."""
    options = {
        "url": jdbc_url(source.engine, credentials),
        "driver": DRIVERS[source.engine],
        "user": credentials.username,
        "password": credentials.password,
        "fetchsize": str(source.fetch_size),
        # TIMESTAMP WITHOUT TIME ZONE / DATETIME2 as wall-clock values, whatever the JVM's zone.
        "preferTimestampNTZ": "true",
    }
    if source.engine == "postgresql":
        options["ApplicationName"] = "medallion-bronze"
    return options


def read_sql(
    spark: SparkSession,
    source: DatabaseSource,
    credentials: Credentials,
    sql: str,
    partitioned: bool = False,
) -> DataFrame:
    """The rows of ``sql`` (built by ``DatabaseSource``) through Spark's JDBC source; read in
    ``num_partitions`` ranges of the partition column when ``partitioned``."""
    reader = spark.read.format("jdbc").options(**read_options(source, credentials))
    reader = reader.option("dbtable", f"({sql}) medallion_extract")
    if partitioned and source.partition_column:
        reader = reader.options(
            partitionColumn=source.partition_column,
            lowerBound=str(source.lower_bound),
            upperBound=str(source.upper_bound),
            numPartitions=str(source.num_partitions),
        )
    return reader.load()


def source_error(
    dataset: str, source: DatabaseSource, credentials: Credentials, exc: Exception
) -> SourceError:
    """One line for a failed read: the dataset, the source, where, and the driver's reason."""
    text = str(exc)
    found = DRIVER_ERROR.search(text)
    if found is None:
        reason = (text.strip().splitlines() or [type(exc).__name__])[0]
    elif "ClassNotFoundException" in found.group(1):
        reason = (
            f"the JDBC driver {DRIVERS[source.engine]} is not on Spark's classpath (locally: "
            "apt-get install libpostgresql-jdbc-java, or list jars in MEDALLION_JDBC_JARS)"
        )
    else:
        reason = found.group(1).split(": ", 1)[-1]
    if credentials.password:
        reason = reason.replace(credentials.password, "***")
    where = credentials.where(source.engine)
    return SourceError(f"{dataset}: cannot read {source.name} at {where}: {reason.strip()}")
