"""The lake's objects for the state machine's ``aws-sdk:s3:getObject`` Tasks (patch 12 of
:mod:`medallion.local.moto_patches`).

A local lake is a directory, not a bucket in moto's S3. The definition names it by a bucket of
its own (``medallion.local.services.LAKE_BUCKET``); a GetObject of that bucket is answered from
the lake directory by the local services (``LocalHooks.lake_object``), as S3 would answer it
for the deployed stack's lake: the object's text as ``Body`` (Step Functions hands a text body
on as a string), or the ``NoSuchKey`` error S3 gives for a key that is not there. Every other
AWS SDK call goes to moto as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

import botocore.session
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (  # noqa: E501
    StateTaskServiceAwsSdk,
)


class LakeObjectsService(StateTaskServiceAwsSdk):
    """``arn:aws:states:::aws-sdk:*``, with the local lake's objects served from its directory."""

    def __init__(self, hooks: Callable[[], Any]) -> None:
        super().__init__()
        # The local services installed when the Task runs (a parsed definition may outlive
        # one run's services), or None; their ``lake_object(bucket, key)`` gives the object's
        # bytes, None when the bucket is not the lake's, KeyError when the lake lacks the key.
        self._hooks = hooks

    def _eval_service_task(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict,
        state_credentials: Any,
    ) -> None:
        if (self._get_boto_service_name(), self._get_boto_service_action()) == ("s3", "get_object"):
            bucket, key = normalised_parameters["Bucket"], normalised_parameters["Key"]
            hooks = self._hooks()
            try:
                content = None if hooks is None else hooks.lake_object(bucket, key)
            except KeyError:
                raise _no_such_key(key) from None
            if content is not None:
                env.stack.append({"Body": content.decode("utf-8"), "ContentLength": len(content)})
                return
        super()._eval_service_task(
            env, resource_runtime_part, normalised_parameters, state_credentials
        )


def _no_such_key(key: str) -> ClientError:
    """S3's answer for a key the bucket does not have: botocore's modeled ``NoSuchKey``, which
    Step Functions names ``S3.NoSuchKeyException`` on AWS (moto's engine: ``s3.NoSuchKey...``)."""
    response: Any = {
        "Error": {"Code": "NoSuchKey", "Message": "The specified key does not exist.", "Key": key},
        "ResponseMetadata": {"HTTPStatusCode": 404, "RequestId": "medallion-local"},
    }
    return cast(ClientError, _s3_errors().NoSuchKey(response, "GetObject"))


@functools.cache
def _s3_errors() -> Any:
    # A client is the one way to botocore's modeled exception classes; it sends nothing.
    return botocore.session.get_session().create_client("s3", region_name="us-east-1").exceptions
