"""Which source owns a pipeline or an execution id, read from the id itself."""

from __future__ import annotations

import enum
import re


class Origin(enum.Enum):
    STEP_FUNCTIONS = "stepfunctions"
    SAGEMAKER = "sagemaker"
    EXTERNAL = "external"


_SFN = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:(stateMachine|execution):")
_SAGEMAKER = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:pipeline/")


SAGEMAKER_NAME_PREFIX = "sagemaker-name:"
"""A SageMaker pipeline known by name only (from a catalog annotation)."""


def origin_of(key: str) -> Origin | None:
    if key.startswith("external:"):
        return Origin.EXTERNAL
    if key.startswith(SAGEMAKER_NAME_PREFIX):
        return Origin.SAGEMAKER
    if _SFN.match(key):
        return Origin.STEP_FUNCTIONS
    if _SAGEMAKER.match(key):
        return Origin.SAGEMAKER
    return None


def sfn_execution_state_machine(execution_arn: str) -> str:
    """``...:execution:<machine>:<name>`` -> ``...:stateMachine:<machine>``."""
    prefix, _, rest = execution_arn.partition(":execution:")
    machine = rest.split(":", 1)[0]
    return f"{prefix}:stateMachine:{machine}"


def sagemaker_execution_pipeline(execution_arn: str) -> str:
    """``...:pipeline/<name>/execution/<id>`` -> ``...:pipeline/<name>``."""
    return execution_arn.split("/execution/", 1)[0]


def claim_key(pipeline_id: str) -> str:
    """The key under which a catalog entity's claim on a pipeline is found, however the
    pipeline is named: a SageMaker pipeline by its ARN or by its bare name (an annotation
    may hold either; SageMaker's ARNs carry the name in lower case), a state machine or a
    pushed pipeline by its id."""
    if origin_of(pipeline_id) is Origin.SAGEMAKER:
        name = pipeline_id.removeprefix(SAGEMAKER_NAME_PREFIX)
        if _SAGEMAKER.match(name):
            name = name.split(":pipeline/", 1)[1].split("/", 1)[0]
        return SAGEMAKER_NAME_PREFIX + name.lower()
    return pipeline_id
