"""``medallion serve``: the pipeline's AWS surface (Step Functions, Firehose, Athena, Glue, SNS)
on 127.0.0.1, for the AWS CLI, boto3 and awswrangler."""

HOST = "127.0.0.1"  # the endpoint checks no credentials: never on another interface
DEFAULT_PORT = 4570
