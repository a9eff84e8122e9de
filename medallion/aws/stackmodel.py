"""The rendered stack with its CloudFormation functions evaluated, as a deployed stack holds them.

Local checks that must agree with AWS (a job's DefaultArguments, a role's policy) read them from
the same template ``medallion synth`` renders, with ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``,
``Fn::Join``, ``Fn::If`` and the condition functions evaluated here for a fixed, fictitious
account, region and stack. Physical names follow what CloudFormation does: a resource's name
property when it has one, else ``<stack>-<LogicalId>-<suffix>``.

The functions' semantics are those of the CloudFormation intrinsic function reference:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from infra.stack import render

ACCOUNT_ID = "123456789012"  # AWS's documentation account id; nothing real
REGION = "eu-west-1"
PARTITION = "aws"

# Where each resource type keeps its name, and how its Ref and Arn read (CloudFormation's
# "Return values" section of each resource type's page).
_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Athena::WorkGroup": "Name",
    "AWS::Glue::Crawler": "Name",
    "AWS::Glue::Job": "Name",
    "AWS::Glue::SecurityConfiguration": "Name",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Events::Rule": "Name",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::ApiGateway::RestApi": "Name",
}


class UnresolvableError(ValueError):
    """A function or reference the model does not know how to evaluate."""


@dataclass(frozen=True)
class StackModel:
    """A rendered template evaluated for one fictitious deployment.

    Parameters
    ----------
    template
        The template as a dict (``json.loads(infra.stack.render(env))``).
    stack_name
        The stack's name (``medallion-<env>``).
    parameters
        Parameter values overriding the template's defaults.
    """

    template: Mapping[str, Any]
    stack_name: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    account_id: str = ACCOUNT_ID
    region: str = REGION
    partition: str = PARTITION

    @classmethod
    def from_text(cls, text: str, stack_name: str, **kwargs: Any) -> StackModel:
        """A model of a template given as JSON text."""
        return cls(json.loads(text), stack_name, **kwargs)

    # --- what the template declares -------------------------------------------------------
    @property
    def resources(self) -> Mapping[str, Any]:
        return dict(self.template.get("Resources", {}))

    def parameter(self, name: str) -> str:
        if name in self.parameters:
            return str(self.parameters[name])
        spec = self.template.get("Parameters", {}).get(name)
        if spec is None:
            raise UnresolvableError(f"no parameter {name!r}")
        return str(spec.get("Default", ""))

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions", {})
        if name not in conditions:
            raise UnresolvableError(f"no condition {name!r}")
        return bool(self.resolve(conditions[name]))

    def properties(self, logical_id: str) -> dict[str, Any]:
        """A resource's properties with every function evaluated."""
        resource = self.resources[logical_id]
        return dict(self.resolve(resource.get("Properties", {})))

    def of_type(self, resource_type: str) -> list[str]:
        """Logical ids of the resources of one type, in template order."""
        return [k for k, v in self.resources.items() if v["Type"] == resource_type]

    # --- names, Refs and attributes -------------------------------------------------------
    @cached_property
    def _names(self) -> dict[str, str]:
        return {}

    def physical_name(self, logical_id: str) -> str:
        """The name CloudFormation gives a resource: its name property, else a generated one."""
        if logical_id in self._names:
            return self._names[logical_id]
        resource = self.resources.get(logical_id)
        if resource is None:
            raise UnresolvableError(f"no resource {logical_id!r}")
        props = resource.get("Properties", {})
        prop = _NAME_PROPERTY.get(resource["Type"])
        given = props.get(prop) if prop else None
        # A Glue database or table is named inside its input structure.
        for nested in ("DatabaseInput", "TableInput"):
            if nested in props and "Name" in props[nested]:
                given = props[nested]["Name"]
        if given is not None:
            name = str(self.resolve(given))
        else:
            suffix = re.sub(r"[^a-z0-9]", "", logical_id.lower())[:12]
            name = f"{self.stack_name}-{logical_id}-{suffix.upper()[:6]}EXAMPLE"
            if resource["Type"] == "AWS::S3::Bucket":
                name = name.lower()
        self._names[logical_id] = name
        return name

    def ref(self, logical_id: str) -> str:
        """What ``Ref`` returns: a parameter's value, a pseudo parameter, or a resource's id."""
        pseudo = {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}"
                f":stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::NoValue": None,
        }
        if logical_id in pseudo:
            return pseudo[logical_id]  # type: ignore[return-value]
        if logical_id in self.template.get("Parameters", {}):
            return self.parameter(logical_id)
        resource_type = self.resources.get(logical_id, {}).get("Type")
        if resource_type is None:
            raise UnresolvableError(f"Ref to unknown {logical_id!r}")
        name = self.physical_name(logical_id)
        arn_refs = {
            "AWS::SNS::Topic",
            "AWS::StepFunctions::StateMachine",
            "AWS::SecretsManager::Secret",
            "AWS::IAM::ManagedPolicy",
        }
        if resource_type in arn_refs:
            return self.arn(logical_id)
        if resource_type == "AWS::KMS::Key":
            return "1234abcd-12ab-34cd-56ef-1234567890ab"
        if resource_type == "AWS::SQS::Queue":  # a queue's Ref is its URL
            return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{name}"
        if resource_type == "AWS::ApiGateway::RestApi":  # an API's Ref is its generated id
            return "a1b2c3d4e5"
        return name

    def arn(self, logical_id: str) -> str:
        """A resource's ``Arn`` attribute."""
        resource_type = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        p, r, a = self.partition, self.region, self.account_id
        arns = {
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::IAM::ManagedPolicy": f"arn:{p}:iam::{a}:policy/{name}",
            "AWS::KMS::Key": f"arn:{p}:kms:{r}:{a}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "AWS::SNS::Topic": f"arn:{p}:sns:{r}:{a}:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:{p}:states:{r}:{a}:stateMachine:{name}",
            # Secrets Manager appends a hyphen and six random characters to a secret's ARN.
            "AWS::SecretsManager::Secret": f"arn:{p}:secretsmanager:{r}:{a}:secret:{name}-AbCdEf",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
            "AWS::Events::Rule": f"arn:{p}:events:{r}:{a}:rule/{name}",
            "AWS::CloudWatch::Alarm": f"arn:{p}:cloudwatch:{r}:{a}:alarm:{name}",
            "AWS::KinesisFirehose::DeliveryStream": (
                f"arn:{p}:firehose:{r}:{a}:deliverystream/{name}"
            ),
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{name}",
        }
        if resource_type not in arns:
            raise UnresolvableError(f"no Arn for {logical_id} ({resource_type})")
        return arns[resource_type]

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute == "Name":
            return self.physical_name(logical_id)
        if attribute == "KeyId":
            return str(self.ref(logical_id))
        if attribute == "RootResourceId":  # an API Gateway REST API's root resource
            return "r00t1d2e3f"
        raise UnresolvableError(f"no attribute {logical_id}.{attribute}")

    # --- evaluation -----------------------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        """Evaluate every CloudFormation function inside ``node``."""
        if isinstance(node, list):
            out = [self.resolve(item) for item in node]
            return [item for item in out if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, value)
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
        local = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return str(local[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


_NO_VALUE = object()


def _ref(model: StackModel, value: str) -> Any:
    result = model.ref(value)
    return _NO_VALUE if result is None else result


def _if(model: StackModel, value: list[Any]) -> Any:
    name, when_true, when_false = value
    return model.resolve(when_true if model.condition(name) else when_false)


_FUNCTIONS: dict[str, Any] = {
    "Ref": _ref,
    "Fn::GetAtt": lambda m, v: m.get_att(*(v if isinstance(v, list) else v.split(".", 1))),
    "Fn::Sub": lambda m, v: m._sub(v),
    "Fn::Join": lambda m, v: str(m.resolve(v[0])).join(str(x) for x in m.resolve(v[1])),
    "Fn::If": _if,
    "Fn::Equals": lambda m, v: m.resolve(v[0]) == m.resolve(v[1]),
    "Fn::Not": lambda m, v: not m.resolve(v[0]),
    "Fn::And": lambda m, v: all(m.resolve(x) for x in v),
    "Fn::Or": lambda m, v: any(m.resolve(x) for x in v),
    "Condition": lambda m, v: m.condition(v),
    "Fn::Select": lambda m, v: m.resolve(v[1])[int(m.resolve(v[0]))],
    "Fn::Split": lambda m, v: str(m.resolve(v[1])).split(v[0]),
}


def model_for(env: str, parameters: Mapping[str, str] | None = None) -> StackModel:
    """The stack ``medallion deploy`` would create for ``env``, evaluated."""
    return StackModel.from_text(render(env), f"medallion-{env}", parameters=parameters or {})
