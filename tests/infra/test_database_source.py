"""The optional database source in the stack: without its parameters nothing of it exists;
with them, a JDBC connection in the subnet, the bronze job through it, and the secret readable
by the bronze job alone."""

from __future__ import annotations

import json
from typing import Any

from medallion.aws.stackmodel import model_for

SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:medallion/shop-AbCdEf"
GIVEN = {
    "DatabaseSecretArn": SECRET,
    "DatabaseSubnetId": "subnet-0123456789abcdef0",
    "DatabaseSecurityGroupId": "sg-0123456789abcdef0",
}
DATABASE_RESOURCES = ("DatabaseConnection", "BronzeJobDatabasePolicy")


def test_without_the_parameters_there_is_no_connection_and_no_secret_argument() -> None:
    model = model_for("dev")
    assert model.condition("HasDatabaseSource") is False
    for logical_id in DATABASE_RESOURCES:
        assert model.resources[logical_id]["Condition"] == "HasDatabaseSource"
    bronze = model.properties("BronzeJob")
    assert "Connections" not in bronze
    assert bronze["DefaultArguments"]["--jdbc_secret"] == ""
    for layer in ("Silver", "Gold"):
        job = model.properties(f"{layer}Job")
        assert "Connections" not in job and "--jdbc_secret" not in job["DefaultArguments"]


def test_one_parameter_short_is_still_no_database_source() -> None:
    for missing in GIVEN:
        given = {k: v for k, v in GIVEN.items() if k != missing}
        assert model_for("dev", given).condition("HasDatabaseSource") is False


def test_with_the_parameters_the_bronze_job_runs_through_a_jdbc_connection() -> None:
    model = model_for("dev", GIVEN)
    assert model.condition("HasDatabaseSource") is True
    connection = model.properties("DatabaseConnection")["ConnectionInput"]
    assert connection["ConnectionType"] == "JDBC"
    assert connection["PhysicalConnectionRequirements"] == {
        "SubnetId": GIVEN["DatabaseSubnetId"],
        "SecurityGroupIdList": [GIVEN["DatabaseSecurityGroupId"]],
    }
    properties = connection["ConnectionProperties"]
    assert properties["SECRET_ID"] == SECRET
    assert set(properties) == {"JDBC_CONNECTION_URL", "SECRET_ID"}  # no user, no password
    assert properties["JDBC_CONNECTION_URL"] == (
        f"jdbc:postgresql://{{{{resolve:secretsmanager:{SECRET}:SecretString:host}}}}:"
        f"{{{{resolve:secretsmanager:{SECRET}:SecretString:port}}}}/"
        f"{{{{resolve:secretsmanager:{SECRET}:SecretString:dbname}}}}"
    )
    sqlserver = model_for("dev", {**GIVEN, "DatabaseEngine": "sqlserver"})
    url = sqlserver.properties("DatabaseConnection")["ConnectionInput"]["ConnectionProperties"]
    assert url["JDBC_CONNECTION_URL"].startswith("jdbc:sqlserver://{{resolve:")
    assert ";databaseName={{resolve:" in url["JDBC_CONNECTION_URL"]
    bronze = model.properties("BronzeJob")
    assert bronze["Connections"] == {"Connections": [model.ref("DatabaseConnection")]}
    assert bronze["DefaultArguments"]["--jdbc_secret"] == SECRET


def statements(model: Any, logical_id: str) -> list[dict[str, Any]]:
    document = model.properties(logical_id)["PolicyDocument"]
    return list(document["Statement"])


def test_only_the_bronze_job_may_read_the_database_secret_and_nothing_else() -> None:
    model = model_for("dev", GIVEN)
    policy = model.properties("BronzeJobDatabasePolicy")
    assert policy["Roles"] == [model.ref("BronzeJobRole")]
    found = statements(model, "BronzeJobDatabasePolicy")
    secrets = [s for s in found if any(a.startswith("secretsmanager:") for a in s["Action"])]
    assert secrets == [
        {
            "Sid": "DatabaseSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [SECRET],
        }
    ]
    create = next(s for s in found if s["Sid"] == "NetworkInterfaceCreate")
    assert any(r.endswith(":subnet/subnet-0123456789abcdef0") for r in create["Resource"])
    assert any(r.endswith(":security-group/sg-0123456789abcdef0") for r in create["Resource"])
    for role in ("SilverJobRole", "GoldJobRole", "CrawlerRole", "PipelineRole"):
        if role in model.resources:
            assert SECRET not in json.dumps(model.properties(role)), role
    others = [
        lid for lid in model.of_type("AWS::IAM::ManagedPolicy") if lid != "BronzeJobDatabasePolicy"
    ]
    assert all(SECRET not in json.dumps(model.properties(lid)) for lid in others)
