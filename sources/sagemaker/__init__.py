"""SageMaker: pipelines, model registry, model cards and training jobs."""

from sources.sagemaker.source import SageMakerSource

__all__ = ["SageMakerSource"]
