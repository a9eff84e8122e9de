"""Lake paths and API calls map to IAM requests, and the template grants them."""

from __future__ import annotations

from medallion.access import mapping
from medallion.access.evaluate import evaluate
from medallion.aws.stackmodel import model_for

MODEL = model_for("dev")
LAKE = f"arn:aws:s3:::{MODEL.ref('LakeBucket')}"


def test_lake_paths_map_to_object_and_bucket_arns() -> None:
    read = mapping.s3_accesses("GoldJobRole", "read", "silver/orders/day=1/part-0.parquet")
    assert read[0].action == "s3:GetObject"
    assert read[0].resolve(MODEL.ref).resource == f"{LAKE}/silver/orders/day=1/part-0.parquet"
    assert read[1].action == "kms:Decrypt"
    assert dict(read[1].context) == {"kms:ViaService": "s3.${AWS::Region}.amazonaws.com"}
    (listing,) = mapping.s3_accesses("GoldJobRole", "list", "silver/orders")
    assert listing.action == "s3:ListBucket"
    assert listing.resolve(MODEL.ref).resource == LAKE
    assert dict(listing.context) == {"s3:prefix": "silver/orders/"}


def test_local_only_files_have_no_s3_key() -> None:
    assert mapping.lake_key("_catalog/catalog.duckdb") is None
    assert mapping.lake_key("_meta/logs/r1/silver.log") is None
    assert mapping.lake_key("gold/x/.part-0.parquet.crc") is None
    assert mapping.lake_key("gold/x/part-0.parquet") == "gold/x/part-0.parquet"


def test_api_calls_map_to_iam_actions() -> None:
    assert mapping.api_action("secretsmanager", "GetSecretValue") == "secretsmanager:GetSecretValue"
    assert mapping.api_action("s3", "HeadObject") == "s3:GetObject"
    assert mapping.api_resource(
        "glue", "CreateTable", {"DatabaseName": "g", "TableInput": {"Name": "t"}}
    ).endswith(":table/g/t")


def test_collapse_keeps_one_access_per_partition_pattern() -> None:
    many = [
        a
        for day in range(1, 30)
        for a in mapping.s3_accesses(
            "SilverJobRole", "write", f"silver/o/day={day}/part-{day}.parquet"
        )
    ]
    assert len(mapping.collapse(many)) == 2  # the object write and the key use


def test_the_athena_sync_integration_asks_for_the_documented_actions() -> None:
    definition = {
        "States": {
            "Q": {
                "Type": "Task",
                "Resource": "arn:aws:states:::athena:startQueryExecution.sync",
                "Parameters": {
                    "WorkGroup": "wg",
                    "QueryExecutionContext": {"Database": "gold"},
                    "QueryString": "CREATE OR REPLACE VIEW gold.v AS select * from t",
                },
            }
        }
    }
    actions = {a.action for a in mapping.integration_accesses(definition)}
    assert {
        "athena:GetDataCatalog",
        "s3:ListBucketMultipartUploads",
        "s3:ListMultipartUploadParts",
        "lakeformation:GetDataAccess",
        "glue:CreateTable",
    } <= actions


def test_silver_may_stage_its_batches() -> None:
    key = "_staging/checked/orders/run_id=r1/part-0.parquet"
    accesses = [
        *mapping.s3_accesses("SilverJobRole", "write", key),
        *mapping.s3_accesses("SilverJobRole", "delete", key),
        *mapping.s3_accesses("SilverJobRole", "list", "_staging/checked/orders"),
    ]
    assert evaluate(accesses, MODEL) == []


def test_a_notice_read_by_key_is_one_object_read_and_its_decryption():
    definition = {
        "States": {
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {
                    "Bucket": "${LakeBucket}",
                    "Key.$": "States.Format('_meta/notices/{}/bronze.json', $.options.run_id)",
                },
            }
        }
    }
    accesses = {(a.action, a.resource) for a in mapping.integration_accesses(definition)}
    assert accesses == {
        ("s3:GetObject", f"{mapping.LAKE_BUCKET}/_meta/notices/run-1/bronze.json"),
        ("kms:Decrypt", mapping.DATA_KEY),
    }
