"""Amazon States Language definition of the demo's batch scoring pipeline (a Map state)."""

from __future__ import annotations

from typing import Any

from gateway.demo.asl import task
from gateway.demo.names import ARTIFACTS_BUCKET, DATASETS_BUCKET, SCORING_TIMEOUT_SECONDS


def scoring_pipeline(region: str) -> dict[str, Any]:
    """Wait for the day's feature snapshot, then score every shard with a Map state."""
    return {
        "Comment": (
            "Scores the day's customers with the approved churn model: one SageMaker "
            "batch transform job per input shard, then a manifest for downstream jobs."
        ),
        "TimeoutSeconds": SCORING_TIMEOUT_SECONDS,
        "StartAt": "WaitForFeatureSnapshot",
        "States": {
            "WaitForFeatureSnapshot": {
                "Type": "Wait",
                "SecondsPath": "$.upstream_delay_seconds",
                "Next": "ListShards",
            },
            "ListShards": {
                **task(
                    "aws-sdk:s3:listObjectsV2",
                    {"Bucket": DATASETS_BUCKET, "Prefix.$": "$.input_prefix"},
                ),
                "ResultSelector": {"keys.$": "$.Contents[*].Key", "count.$": "$.KeyCount"},
                "ResultPath": "$.shards",
                "Next": "ScoreShards",
            },
            "ScoreShards": {
                "Type": "Map",
                "ItemsPath": "$.shards.keys",
                "MaxConcurrency": 4,
                "ItemSelector": {
                    "key.$": "$$.Map.Item.Value",
                    "index.$": "$$.Map.Item.Index",
                    "run.$": "$$.Execution.Name",
                    "model.$": "$.model_name",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "ScoreShard",
                    "States": {
                        "ScoreShard": {
                            **task(
                                "aws-sdk:sagemaker:createTransformJob",
                                {
                                    "TransformJobName.$": "States.Format('{}-{}', $.run, $.index)",
                                    "ModelName.$": "$.model",
                                    "BatchStrategy": "MultiRecord",
                                    "TransformInput": {
                                        "DataSource": {
                                            "S3DataSource": {
                                                "S3DataType": "S3Prefix",
                                                "S3Uri.$": (
                                                    f"States.Format('s3://{DATASETS_BUCKET}/{{}}', "
                                                    "$.key)"
                                                ),
                                            }
                                        },
                                        "ContentType": "text/csv",
                                        "SplitType": "Line",
                                    },
                                    "TransformOutput": {
                                        "S3OutputPath.$": (
                                            f"States.Format('s3://{ARTIFACTS_BUCKET}/churn/"
                                            "scores/{}', $.run)"
                                        ),
                                        "AssembleWith": "Line",
                                    },
                                    "TransformResources": {
                                        "InstanceCount": 1,
                                        "InstanceType": "ml.m5.large",
                                    },
                                },
                            ),
                            "ResultSelector": {"job_arn.$": "$.TransformJobArn"},
                            "End": True,
                        }
                    },
                },
                "ResultPath": "$.scored",
                "Next": "PublishManifest",
            },
            "PublishManifest": {
                **task(
                    "aws-sdk:s3:putObject",
                    {
                        "Bucket": ARTIFACTS_BUCKET,
                        "Key.$": (
                            "States.Format('churn/scores/{}/_manifest.json', $$.Execution.Name)"
                        ),
                        "ContentType": "application/json",
                        "Body.$": "States.JsonToString($.scored)",
                    },
                ),
                "ResultSelector": {"etag.$": "$.ETag"},
                "ResultPath": "$.manifest",
                "End": True,
            },
        },
    }
