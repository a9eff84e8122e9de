"""The optional database source: a Glue JDBC connection in the database's VPC and the bronze
job's right to read its secret. Without the three parameters, none of it is created."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import And, Equals, If, Not, Parameter, Ref, Sub, Template, glue, iam

from infra.common import name
from infra.policies.database import database_source_policy

HAS_DATABASE_SOURCE = "HasDatabaseSource"
IS_SQLSERVER = "DatabaseIsSqlServer"

DATABASE_PARAMETERS: dict[str, dict[str, Any]] = {
    "DatabaseEngine": dict(
        Type="String",
        Default="postgresql",
        AllowedValues=["postgresql", "sqlserver"],
        Description="Engine of the source database (the contracts' source: engine)",
    ),
    "DatabaseSecretArn": dict(
        Type="String",
        Default="",
        AllowedPattern=r"^$|^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$",
        ConstraintDescription="a Secrets Manager secret ARN, or empty for no database source",
        Description="Secret of the source database in RDS's shape (username, password, host, "
        "port, dbname); empty for no database source",
    ),
    "DatabaseSubnetId": dict(
        Type="String",
        Default="",
        AllowedPattern=r"^$|^subnet-[0-9a-f]{8,17}$",
        Description="Private subnet the bronze job reaches the database from (it needs an S3 "
        "gateway endpoint and a Secrets Manager endpoint or NAT); empty for none",
    ),
    "DatabaseSecurityGroupId": dict(
        Type="String",
        Default="",
        AllowedPattern=r"^$|^sg-[0-9a-f]{8,17}$",
        Description="Security group of the job's network interfaces: all TCP from itself, and "
        "let into the database's port; empty for none",
    ),
}


@dataclass(frozen=True)
class Database:
    """The connection (created only under ``HasDatabaseSource``) and the secret parameter."""

    connection: glue.Connection
    secret_arn: Ref
    subnet_id: Ref
    security_group_id: Ref


def add_database_conditions(template: Template, params: dict[str, Parameter]) -> None:
    """A database source needs all three: the secret, the subnet and the security group."""
    given = [
        Not(Equals(Ref(params[key]), "")) for key in DATABASE_PARAMETERS if key != "DatabaseEngine"
    ]
    template.add_condition(HAS_DATABASE_SOURCE, And(*given))
    template.add_condition(IS_SQLSERVER, Equals(Ref(params["DatabaseEngine"]), "sqlserver"))


def _secret_field(field: str) -> str:
    # A dynamic reference: CloudFormation reads the field when it creates the connection, so
    # the host is never a template value (https://docs.aws.amazon.com/AWSCloudFormation/latest/
    # UserGuide/dynamic-references-secretsmanager.html). The password is not read here: the
    # connection names the secret (SECRET_ID) and the job reads it itself.
    return f"{{{{resolve:secretsmanager:${{DatabaseSecretArn}}:SecretString:{field}}}}}"


def add_database(template: Template, params: dict[str, Parameter]) -> Database:
    """The Glue connection of type JDBC, in the database's subnet and security group.

    Glue puts the job's network interfaces where the connection's PhysicalConnectionRequirements
    say (https://docs.aws.amazon.com/glue/latest/dg/connection-defining.html), and its runtime
    bundles the PostgreSQL and SQL Server JDBC drivers; the job reads through Spark's JDBC
    source with the credentials of the secret.
    """
    host, port, dbname = (_secret_field(f) for f in ("host", "port", "dbname"))
    url = If(
        IS_SQLSERVER,
        Sub(f"jdbc:sqlserver://{host}:{port};databaseName={dbname}"),
        Sub(f"jdbc:postgresql://{host}:{port}/{dbname}"),
    )
    connection = template.add_resource(
        glue.Connection(
            "DatabaseConnection",
            Condition=HAS_DATABASE_SOURCE,
            CatalogId=Ref("AWS::AccountId"),
            ConnectionInput=glue.ConnectionInput(
                Name=name("database"),
                Description="medallion: the source database, for the bronze job",
                ConnectionType="JDBC",
                ConnectionProperties={
                    "JDBC_CONNECTION_URL": url,
                    "SECRET_ID": Ref(params["DatabaseSecretArn"]),
                },
                PhysicalConnectionRequirements=glue.PhysicalConnectionRequirements(
                    SubnetId=Ref(params["DatabaseSubnetId"]),
                    SecurityGroupIdList=[Ref(params["DatabaseSecurityGroupId"])],
                ),
            ),
        )
    )
    return Database(
        connection,
        Ref(params["DatabaseSecretArn"]),
        Ref(params["DatabaseSubnetId"]),
        Ref(params["DatabaseSecurityGroupId"]),
    )


def add_database_policy(
    template: Template, database: Database, role: iam.Role
) -> iam.ManagedPolicy:
    """The bronze job role's extra rights for the database source, only when there is one."""
    return template.add_resource(
        iam.ManagedPolicy(
            "BronzeJobDatabasePolicy",
            Condition=HAS_DATABASE_SOURCE,
            ManagedPolicyName=name("bronze-database"),
            Description="medallion: the bronze job reads the source database's secret",
            Roles=[Ref(role)],
            PolicyDocument=database_source_policy(
                secret_arn=database.secret_arn,
                connection_name=Ref(database.connection),
                subnet_id=database.subnet_id,
                security_group_id=database.security_group_id,
            ),
        )
    )


def bronze_connections(database: Database | None) -> Any:
    """The bronze job's Connections: the database's, or none."""
    if database is None:
        return Ref("AWS::NoValue")
    return If(
        HAS_DATABASE_SOURCE,
        glue.ConnectionsList(Connections=[Ref(database.connection)]),
        Ref("AWS::NoValue"),
    )


def bronze_secret_argument(database: Database | None) -> Any:
    """``--jdbc_secret``: the secret's ARN, or empty (no database source)."""
    if database is None:
        return ""
    return If(HAS_DATABASE_SOURCE, database.secret_arn, "")
