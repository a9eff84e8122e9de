"""The Step Functions integration ``athena:startQueryExecution.sync`` moto 5.2.5 lacks (patch 2 of
:mod:`medallion.local.moto_patches`, which installs it and checks moto's version first)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

# Typed Any: moto declares these str constants but types the sets as set[ResourceCondition].
_CALLBACK: Any = ResourceCondition.WaitForTaskToken
_SYNC: Any = ResourceCondition.Sync
_ATHENA_TERMINAL: Final = {"SUCCEEDED", "FAILED", "CANCELLED"}
_ATHENA_PARAMETERS: Final = {
    "startqueryexecution": {
        "ClientRequestToken",
        "ExecutionParameters",
        "QueryExecutionContext",
        "QueryString",
        "ResultConfiguration",
        "ResultReuseConfiguration",
        "WorkGroup",
    }
}


class AthenaSyncService(state_task_service_callback.StateTaskServiceCallback):
    """``arn:aws:states:::athena:startQueryExecution.sync``, with the callback pattern (patch 2)."""

    def __init__(self) -> None:
        super().__init__(
            supported_integration_patterns={
                _SYNC,
                _CALLBACK,
            }
        )

    def _get_supported_parameters(self) -> set[str] | None:
        return _ATHENA_PARAMETERS.get(self.resource.api_action.lower())

    def _eval_service_task(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict,
        state_credentials: Any,
    ) -> None:
        client = boto_client_for(
            service="athena",
            region=resource_runtime_part.region,
            state_credentials=state_credentials,
        )
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(response)

    def _build_sync_resolver(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict,
        state_credentials: Any,
    ) -> Callable[[], Any]:
        query_id = env.stack.pop()["QueryExecutionId"]
        client = boto_client_for(
            service="athena",
            region=resource_runtime_part.region,
            state_credentials=state_credentials,
        )

        def resolve() -> Any:
            described = client.get_query_execution(QueryExecutionId=query_id)
            described.pop("ResponseMetadata", None)
            state = described["QueryExecution"]["Status"]["State"]
            if state not in _ATHENA_TERMINAL:
                return None
            if state == "SUCCEEDED":
                return described
            # Like AWS: States.TaskFailed with the GetQueryExecution output as Cause.
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(  # type: ignore[typeddict-item]
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=StatesErrorNameType.StatesTaskFailed.to_name(),
                            cause=to_json_str(described),
                        )
                    ),
                )
            )

        return resolve
