"""AWS Step Functions: state machines (pipelines) and their executions."""

from sources.stepfunctions.source import StepFunctionsSource

__all__ = ["StepFunctionsSource"]
