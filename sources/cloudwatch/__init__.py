"""CloudWatch: the metric series SageMaker training jobs publish."""

from sources.cloudwatch.source import CloudWatchSource

__all__ = ["CloudWatchSource"]
