"""The optional order stream: a Firehose delivery stream into landing/, and an API in front of it.

Direct PUT producers (``medallion stream``, boto3, the AWS CLI) call PutRecordBatch; producers
outside AWS call the optional REST API, which forwards the same request to Firehose through an
AWS service integration (no Lambda) and is authorised by IAM (SigV4). Records reach S3 as GZIP
objects of the records' bytes concatenated as sent: Firehose adds no delimiter, so each record
carries its own newline (``medallion.aws.firehose.Event.record`` ends every record with one; an
API caller must end each record's data with one too). Firehose's ``AppendDelimiterToRecord``
processor (https://docs.aws.amazon.com/firehose/latest/APIReference/API_Processor.html) is not
used: on top of the producer's newline it would put an empty line, a malformed bronze row,
after every event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import (
    And,
    Condition,
    Equals,
    GetAtt,
    Join,
    Parameter,
    Ref,
    Sub,
    Template,
    apigateway,
    firehose,
    iam,
    logs,
)

from infra.common import encrypted_log_group, flag_parameter, name, tags
from infra.iam import service_role
from infra.policies.stream import (
    ERROR_PREFIX,
    STREAM_PREFIX,
    api_method_arn,
    firehose_delivery_policy,
    stream_api_callers_policy,
    stream_api_policy,
    stream_producers_policy,
)
from infra.storage import Storage

HAS_STREAM = "HasOrderStream"
HAS_STREAM_API = "HasOrderStreamApi"
API_STAGE = "v1"
# Steady requests per second and burst of the API's stage. A request carries up to 500 records
# (PutRecordBatch's limit), so 50 requests/s stays within a Direct PUT stream's default quota in
# most regions (https://docs.aws.amazon.com/firehose/latest/dev/limits.html).
API_RATE_LIMIT = 50
API_BURST_LIMIT = 100
# The API's paths, each the Firehose action it forwards.
API_ACTIONS = {
    "put-record": ("PutRecord", "Record"),
    "put-record-batch": ("PutRecordBatch", "Records"),
}

# Firehose's documented bounds: BufferingHints SizeInMBs 1-128, IntervalInSeconds 0-900
# (https://docs.aws.amazon.com/firehose/latest/APIReference/API_BufferingHints.html).
STREAM_PARAMETERS: dict[str, dict[str, Any]] = {
    "OrderStreamEnabled": flag_parameter(
        "A Firehose delivery stream (Direct PUT) writing order events as GZIP JSON Lines under "
        "landing/order_lines/stream/"
    ),
    "OrderStreamApiEnabled": flag_parameter(
        "An IAM-authorised REST API forwarding PutRecord/PutRecordBatch to the stream, for "
        "producers outside AWS (needs OrderStreamEnabled; API Gateway's account-level "
        "CloudWatch Logs role must be set in the region)"
    ),
    "StreamBufferSizeMiB": dict(
        Type="Number",
        Default=64,
        MinValue=1,
        MaxValue=128,
        Description="Firehose writes an object once this many MiB have arrived (before GZIP), "
        "or at the interval",
    ),
    "StreamBufferIntervalSeconds": dict(
        Type="Number",
        Default=300,
        MinValue=0,
        MaxValue=900,
        Description="Firehose writes an object once its oldest record is this many seconds "
        "old, or at the size",
    ),
}


@dataclass(frozen=True)
class Stream:
    """The stream's resources the outputs refer to."""

    delivery_stream: firehose.DeliveryStream
    api: apigateway.RestApi


def add_stream_conditions(template: Template, params: dict[str, Parameter]) -> None:
    """The stream exists when OrderStream is true; its API when OrderStreamApi is true too."""
    template.add_condition(HAS_STREAM, Equals(Ref(params["OrderStreamEnabled"]), "true"))
    template.add_condition(
        HAS_STREAM_API,
        And(Condition(HAS_STREAM), Equals(Ref(params["OrderStreamApiEnabled"]), "true")),
    )


def add_stream(
    template: Template,
    storage: Storage,
    params: dict[str, Parameter],
    log_retention_days: Ref,
) -> Stream:
    """Add the delivery stream, its role and log group; then the API and the producers' policies.

    Parameters
    ----------
    template : Template
        The template to add to.
    storage : Storage
        The lake bucket and key.
    params : dict
        The stack's parameters (the buffering hints).
    log_retention_days : Ref
        The LogRetentionDays parameter.

    Returns
    -------
    Stream
        The delivery stream and the API.
    """
    log_group = template.add_resource(
        encrypted_log_group(
            "OrderStreamLogGroup",
            "/aws/kinesisfirehose/",
            "orders",
            storage.key,
            log_retention_days,
            Condition=HAS_STREAM,
        )
    )
    template.add_resource(
        logs.LogStream(
            "OrderStreamLogStream",
            Condition=HAS_STREAM,
            LogGroupName=Ref(log_group),
            LogStreamName="DestinationDelivery",
        )
    )
    role = template.add_resource(
        service_role(
            "OrderStreamRole",
            "Firehose writes order events to the lake",
            "firehose.amazonaws.com",
            "deliver-order-events",
            firehose_delivery_policy(
                GetAtt(storage.lake, "Arn"), GetAtt(storage.key, "Arn"), GetAtt(log_group, "Arn")
            ),
            Condition=HAS_STREAM,
        )
    )
    delivery = template.add_resource(_delivery_stream(storage, params, role, log_group))
    template.add_resource(
        iam.ManagedPolicy(
            "StreamProducersPolicy",
            Condition=HAS_STREAM,
            ManagedPolicyName=name("stream-producers"),
            Description="Put order events into the medallion delivery stream",
            PolicyDocument=stream_producers_policy(GetAtt(delivery, "Arn")),
        )
    )
    api = _add_api(template, storage, delivery, log_retention_days)
    return Stream(delivery, api)


def _delivery_stream(
    storage: Storage, params: dict[str, Parameter], role: iam.Role, log_group: logs.LogGroup
) -> firehose.DeliveryStream:
    """Direct PUT, GZIP, the lake's key at rest in Firehose and in S3.

    Objects are named ``<prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>.gz``
    (https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html): the prefix's date
    folders have no ``=`` (so Spark infers no partition column from them) and each name is
    unique, so bronze's manifest (path, size, modification time) never takes two objects for one.
    ``!{timestamp:...}`` is the arrival time of the object's oldest record, in UTC
    (https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html); the error prefix must
    be given once the prefix has an expression, and names the failure type.
    """
    key_arn = GetAtt(storage.key, "Arn")
    return firehose.DeliveryStream(
        "OrderStream",
        Condition=HAS_STREAM,
        DeliveryStreamName=name("orders"),
        DeliveryStreamType="DirectPut",
        DeliveryStreamEncryptionConfigurationInput=firehose.DeliveryStreamEncryptionConfigurationInput(
            KeyType="CUSTOMER_MANAGED_CMK", KeyARN=key_arn
        ),
        ExtendedS3DestinationConfiguration=firehose.ExtendedS3DestinationConfiguration(
            BucketARN=GetAtt(storage.lake, "Arn"),
            RoleARN=GetAtt(role, "Arn"),
            Prefix=f"{STREAM_PREFIX}/!{{timestamp:yyyy/MM/dd/HH}}/",
            ErrorOutputPrefix=f"{ERROR_PREFIX}/!{{firehose:error-output-type}}/"
            "!{timestamp:yyyy/MM/dd/HH}/",
            CompressionFormat="GZIP",
            BufferingHints=firehose.BufferingHints(
                SizeInMBs=Ref(params["StreamBufferSizeMiB"]),
                IntervalInSeconds=Ref(params["StreamBufferIntervalSeconds"]),
            ),
            EncryptionConfiguration=firehose.EncryptionConfiguration(
                KMSEncryptionConfig=firehose.KMSEncryptionConfig(AWSKMSKeyARN=key_arn)
            ),
            CloudWatchLoggingOptions=firehose.CloudWatchLoggingOptions(
                Enabled=True, LogGroupName=Ref(log_group), LogStreamName="DestinationDelivery"
            ),
        ),
        Tags=tags(),
    )


def _add_api(
    template: Template,
    storage: Storage,
    delivery: firehose.DeliveryStream,
    log_retention_days: Ref,
) -> apigateway.RestApi:
    """The REST API: ``POST /put-record`` and ``POST /put-record-batch``, IAM-authorised."""
    role = template.add_resource(
        service_role(
            "OrderStreamApiRole",
            "API Gateway forwards order events to Firehose",
            "apigateway.amazonaws.com",
            "forward-order-events",
            stream_api_policy(GetAtt(delivery, "Arn")),
            Condition=HAS_STREAM_API,
        )
    )
    api = template.add_resource(
        apigateway.RestApi(
            "OrderStreamApi",
            Condition=HAS_STREAM_API,
            Name=name("orders"),
            Description=Sub("medallion ${Environment}: order events into Firehose (SigV4)"),
            EndpointConfiguration=apigateway.EndpointConfiguration(Types=["REGIONAL"]),
            Tags=tags(),
        )
    )
    methods = [
        _add_method(template, api, role, delivery, path, action, field)
        for path, (action, field) in API_ACTIONS.items()
    ]
    deployment = template.add_resource(
        apigateway.Deployment(
            "OrderStreamApiDeployment",
            Condition=HAS_STREAM_API,
            RestApiId=Ref(api),
            DependsOn=[m.title for m in methods],
        )
    )
    access_logs = template.add_resource(
        encrypted_log_group(
            "OrderStreamApiLogGroup",
            "/aws/apigateway/",
            "orders-access",
            storage.key,
            log_retention_days,
            Condition=HAS_STREAM_API,
        )
    )
    template.add_resource(_stage(api, deployment, access_logs))
    template.add_resource(_callers_policy(api))
    return api


def _callers_policy(api: apigateway.RestApi) -> iam.ManagedPolicy:
    """The managed policy a producer outside AWS attaches to call the API's two methods."""
    return iam.ManagedPolicy(
        "StreamApiCallersPolicy",
        Condition=HAS_STREAM_API,
        ManagedPolicyName=name("stream-api-callers"),
        Description="Call the medallion order-events API (SigV4)",
        PolicyDocument=stream_api_callers_policy(
            [api_method_arn(Ref(api), API_STAGE, "POST", path) for path in API_ACTIONS]
        ),
    )


def _add_method(
    template: Template,
    api: apigateway.RestApi,
    role: iam.Role,
    delivery: firehose.DeliveryStream,
    path: str,
    action: str,
    field: str,
) -> apigateway.Method:
    """One path forwarding its body's ``Record``/``Records`` to one Firehose action.

    The mapping template names the stack's stream, so a caller cannot choose another; a body
    that is not JSON is refused (passthrough NEVER: 415). Firehose's status is the method's:
    API Gateway matches a non-Lambda integration's SelectionPattern against the backend's HTTP
    status (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-integration-settings-integration-response.html).
    """
    title = "".join(part.capitalize() for part in path.split("-"))
    resource = template.add_resource(
        apigateway.Resource(
            f"OrderStreamApi{title}Resource",
            Condition=HAS_STREAM_API,
            RestApiId=Ref(api),
            ParentId=GetAtt(api, "RootResourceId"),
            PathPart=path,
        )
    )
    body = Join(
        "",
        ['{"DeliveryStreamName":"', Ref(delivery), f'","{field}":$input.json(\'$.{field}\')}}'],
    )
    statuses = [("200", None), ("400", r"4\d{2}"), ("500", r"5\d{2}")]
    return template.add_resource(
        apigateway.Method(
            f"OrderStreamApi{title}Method",
            Condition=HAS_STREAM_API,
            RestApiId=Ref(api),
            ResourceId=Ref(resource),
            HttpMethod="POST",
            AuthorizationType="AWS_IAM",
            Integration=apigateway.Integration(
                Type="AWS",
                IntegrationHttpMethod="POST",
                Uri=Sub(
                    f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:firehose:action/{action}"
                ),
                Credentials=GetAtt(role, "Arn"),
                PassthroughBehavior="NEVER",
                RequestParameters={
                    "integration.request.header.Content-Type": "'application/x-amz-json-1.1'"
                },
                RequestTemplates={"application/json": body},
                IntegrationResponses=[
                    apigateway.IntegrationResponse(
                        StatusCode=code, **({"SelectionPattern": pattern} if pattern else {})
                    )
                    for code, pattern in statuses
                ],
            ),
            MethodResponses=[apigateway.MethodResponse(StatusCode=code) for code, _ in statuses],
        )
    )


def _stage(
    api: apigateway.RestApi, deployment: apigateway.Deployment, access_logs: logs.LogGroup
) -> apigateway.Stage:
    """The one stage: throttled, traced, metrics on, an access log line per request."""
    access_format = (
        '{"requestId":"$context.requestId","caller":"$context.identity.caller",'
        '"ip":"$context.identity.sourceIp","time":"$context.requestTime",'
        '"path":"$context.resourcePath","status":"$context.status",'
        '"integrationStatus":"$context.integration.status","length":"$context.responseLength"}'
    )
    return apigateway.Stage(
        "OrderStreamApiStage",
        Condition=HAS_STREAM_API,
        RestApiId=Ref(api),
        DeploymentId=Ref(deployment),
        StageName=API_STAGE,
        TracingEnabled=True,
        AccessLogSetting=apigateway.AccessLogSetting(
            DestinationArn=GetAtt(access_logs, "Arn"), Format=access_format
        ),
        MethodSettings=[
            apigateway.MethodSetting(
                ResourcePath="/*",
                HttpMethod="*",
                MetricsEnabled=True,
                LoggingLevel="ERROR",
                ThrottlingRateLimit=API_RATE_LIMIT,
                ThrottlingBurstLimit=API_BURST_LIMIT,
            )
        ],
        Tags=tags(),
    )
