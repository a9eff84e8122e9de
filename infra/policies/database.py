"""What the bronze job may do to read the source database: its one secret, its one Glue
connection, and the network interfaces Glue puts in the connection's subnet."""

from __future__ import annotations

from troposphere import Join, Sub

from infra.iam import ENI_DESCRIBE, Arn, Document, document, statement


def _ec2(kind: str, identifier: str) -> Sub:
    return Sub(
        f"arn:${{AWS::Partition}}:ec2:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/{identifier}"
    )


def database_source_policy(
    *, secret_arn: Arn, connection_name: Arn, subnet_id: Arn, security_group_id: Arn
) -> Document:
    """The bronze job's rights for a database source.

    Parameters
    ----------
    secret_arn : str or function
        The database's Secrets Manager secret: the one secret of the source it may read.
    connection_name : str or function
        The Glue connection the job runs through.
    subnet_id, security_group_id : str or function
        Where Glue puts the job's network interfaces.

    Returns
    -------
    dict
        The policy document.
    """
    interfaces = _ec2("network-interface", "*")
    glue_catalog = Sub("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog")
    connection = Join(
        "",
        [
            Sub("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:connection/"),
            connection_name,
        ],
    )
    return document(
        statement("DatabaseSecret", ["secretsmanager:GetSecretValue"], [secret_arn]),
        statement("DatabaseConnection", ["glue:GetConnection"], [glue_catalog, connection]),
        statement(
            "NetworkInterfaceCreate",
            ["ec2:CreateNetworkInterface"],
            [
                interfaces,
                Join("", [_ec2("subnet", ""), subnet_id]),
                Join("", [_ec2("security-group", ""), security_group_id]),
            ],
        ),
        statement("NetworkInterfaceDelete", ["ec2:DeleteNetworkInterface"], [interfaces]),
        statement(
            "NetworkInterfaceTags",
            ["ec2:CreateTags", "ec2:DeleteTags"],
            [interfaces],
            condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}},
        ),
        statement("NetworkDescribe", ENI_DESCRIBE, ["*"]),
    )
