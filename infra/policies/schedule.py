"""The optional schedule's policy: EventBridge may start the pipeline, nothing else."""

from __future__ import annotations

from infra.iam import Arn, Document, document, statement


def schedule_policy(state_machine_arn: Arn) -> Document:
    """What EventBridge may do for the optional schedule: start the pipeline, nothing else.

    Parameters
    ----------
    state_machine_arn : str or function
        The pipeline's state machine.

    Returns
    -------
    dict
        The policy document.
    """
    return document(statement("StartPipeline", ["states:StartExecution"], [state_machine_arn]))
