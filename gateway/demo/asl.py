"""Amazon States Language definitions of the demo's two ML pipelines.

They are written the way a team without Lambda functions writes them against
AWS, and moto's interpreter (``execute_state_machine``) really runs them:

- ``Task`` states use ``aws-sdk:*`` and ``dynamodb:getItem`` integrations that
  moto executes by calling back into itself (SageMaker processing, training
  and transform jobs, S3, DynamoDB, the model registry), so every run leaves
  real per-state history (TaskScheduled / TaskSucceeded with the job ARN) and
  real SageMaker objects behind. ``.sync`` integrations are not supported by
  moto, hence the classic Wait -> Describe -> Choice polling loop for the
  training job.
- moto cannot read an ``s3:getObject`` body inside a state machine (it hands
  over a stream object), so the evaluation job's metrics are read from a
  DynamoDB table, a common pattern on AWS too.
- Lambda tasks are avoided: moto runs Lambda functions in Docker only.
"""

from __future__ import annotations

from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account
TRAINING_PIPELINE = "churn-training-pipeline"
SCORING_PIPELINE = "churn-batch-scoring"
DATASETS_BUCKET = "mlmeta-demo-datasets"
ARTIFACTS_BUCKET = "mlmeta-demo-artifacts"
EVALUATIONS_TABLE = "mlmeta-demo-model-evaluations"
CHURN_GROUP = "churn-model"
SCORING_MODEL = "churn-model-v3"
STATES_ROLE = "mlmeta-demo-stepfunctions"
SAGEMAKER_ROLE = "mlmeta-demo-sagemaker"
MIN_AUC = 0.85
# moto's execution timeouts are real wall-clock seconds: the scoring SLA is
# compressed so the demo can show a TIMED_OUT run without waiting an hour.
SCORING_TIMEOUT_SECONDS = 5

XGBOOST_IMAGE = "683313688378.dkr.ecr.{region}.amazonaws.com/sagemaker-xgboost:1.7-1"
SKLEARN_IMAGE = "683313688378.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
FEATURES_IMAGE = "{account}.dkr.ecr.{region}.amazonaws.com/churn-features:2.3.0"


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"


def state_machine_arn(name: str, region: str) -> str:
    return f"arn:aws:states:{region}:{ACCOUNT_ID}:stateMachine:{name}"


def _job_name(prefix: str) -> str:
    """A SageMaker job name unique per execution (names are at most 63 characters)."""
    return f"States.Format('{prefix}-{{}}', $$.Execution.Name)"


def _processing_job(
    prefix: str, image: str, script: str, inputs: dict[str, str], output: str
) -> dict[str, Any]:
    return {
        "ProcessingJobName.$": _job_name(prefix),
        "RoleArn": role_arn(SAGEMAKER_ROLE),
        "AppSpecification": {
            "ImageUri": image,
            "ContainerEntrypoint": ["python3", f"/opt/ml/processing/code/{script}"],
        },
        "ProcessingInputs": [
            {
                "InputName": name,
                "S3Input": {
                    "S3Uri.$": uri_path,
                    "LocalPath": f"/opt/ml/processing/input/{name}",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
            for name, uri_path in inputs.items()
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "output",
                    "S3Output": {
                        "S3Uri.$": (
                            f"States.Format('s3://{ARTIFACTS_BUCKET}/churn/{output}/{{}}', "
                            "$$.Execution.Name)"
                        ),
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 30,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def _task(resource: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "Task", "Resource": f"arn:aws:states:::{resource}", "Parameters": parameters}


def training_pipeline(region: str) -> dict[str, Any]:
    """Validate -> preprocess -> two feature branches -> train (polled) -> evaluate -> gate."""
    xgboost = XGBOOST_IMAGE.format(region=region)
    features = FEATURES_IMAGE.format(account=ACCOUNT_ID, region=region)
    sklearn = SKLEARN_IMAGE.format(region=region)
    return {
        "Comment": (
            "Trains the customer churn classifier (XGBoost) on the latest training "
            "snapshot and registers it in the SageMaker model registry when it passes "
            f"the quality gate (validation AUC >= {MIN_AUC})."
        ),
        "StartAt": "ValidateData",
        "States": {
            "ValidateData": {
                **_task(
                    "aws-sdk:s3:headObject",
                    {"Bucket.$": "$.dataset.bucket", "Key.$": "$.dataset.key"},
                ),
                "ResultSelector": {"size_bytes.$": "$.ContentLength", "etag.$": "$.ETag"},
                "ResultPath": "$.validation",
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "ResultPath": "$.validation_error",
                        "Next": "DataValidationFailed",
                    }
                ],
                "Next": "Preprocess",
            },
            "DataValidationFailed": {
                "Type": "Fail",
                "Error": "DataValidationFailed",
                "Cause": "The training snapshot does not exist or cannot be read.",
            },
            "Preprocess": {
                **_task(
                    "aws-sdk:sagemaker:createProcessingJob",
                    _processing_job(
                        "churn-prep",
                        sklearn,
                        "preprocess.py",
                        {"raw": "$.dataset.uri"},
                        "preprocessed",
                    ),
                ),
                "ResultSelector": {"job_arn.$": "$.ProcessingJobArn"},
                "ResultPath": "$.preprocess",
                "Next": "BuildFeatures",
            },
            "BuildFeatures": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "CustomerFeatures",
                        "States": {
                            "CustomerFeatures": {
                                **_task(
                                    "aws-sdk:sagemaker:createProcessingJob",
                                    _processing_job(
                                        "churn-feat-cust",
                                        features,
                                        "customer_features.py",
                                        {"customers": "$.dataset.uri"},
                                        "features/customer",
                                    ),
                                ),
                                "ResultSelector": {"job_arn.$": "$.ProcessingJobArn"},
                                "End": True,
                            }
                        },
                    },
                    {
                        "StartAt": "UsageFeatures",
                        "States": {
                            "UsageFeatures": {
                                **_task(
                                    "aws-sdk:sagemaker:createProcessingJob",
                                    _processing_job(
                                        "churn-feat-usage",
                                        features,
                                        "usage_features.py",
                                        {"events": "$.usage_events_uri"},
                                        "features/usage",
                                    ),
                                ),
                                "ResultSelector": {"job_arn.$": "$.ProcessingJobArn"},
                                "End": True,
                            }
                        },
                    },
                ],
                "ResultSelector": {"customer.$": "$[0].job_arn", "usage.$": "$[1].job_arn"},
                "ResultPath": "$.features",
                "Next": "Train",
            },
            "Train": {
                **_task(
                    "aws-sdk:sagemaker:createTrainingJob",
                    {
                        "TrainingJobName.$": _job_name("churn-train"),
                        "RoleArn": role_arn(SAGEMAKER_ROLE),
                        "AlgorithmSpecification": {
                            "TrainingImage": xgboost,
                            "TrainingInputMode": "File",
                        },
                        "HyperParameters": {
                            "objective": "binary:logistic",
                            "eval_metric": "auc",
                            "eta.$": "States.Format('{}', $.hyperparameters.learning_rate)",
                            "num_round.$": "States.Format('{}', $.hyperparameters.n_estimators)",
                            "max_depth.$": "States.Format('{}', $.hyperparameters.max_depth)",
                            "subsample.$": "States.Format('{}', $.hyperparameters.subsample)",
                        },
                        "InputDataConfig": [
                            {
                                "ChannelName": "train",
                                "ContentType": "text/csv",
                                "DataSource": {
                                    "S3DataSource": {
                                        "S3DataType": "S3Prefix",
                                        "S3Uri.$": (
                                            f"States.Format('s3://{ARTIFACTS_BUCKET}/churn/"
                                            "preprocessed/{}', $$.Execution.Name)"
                                        ),
                                        "S3DataDistributionType": "FullyReplicated",
                                    }
                                },
                            }
                        ],
                        "OutputDataConfig": {"S3OutputPath": f"s3://{ARTIFACTS_BUCKET}/churn/models"},
                        "ResourceConfig": {
                            "InstanceCount": 1,
                            "InstanceType": "ml.m5.2xlarge",
                            "VolumeSizeInGB": 50,
                        },
                        "StoppingCondition": {"MaxRuntimeInSeconds": 7200},
                    },
                ),
                "ResultSelector": {"job_arn.$": "$.TrainingJobArn"},
                "ResultPath": "$.training",
                "Next": "WaitForTraining",
            },
            "WaitForTraining": {
                "Type": "Wait",
                "SecondsPath": "$.poll_interval_seconds",
                "Next": "DescribeTrainingJob",
            },
            "DescribeTrainingJob": {
                **_task(
                    "aws-sdk:sagemaker:describeTrainingJob",
                    {"TrainingJobName.$": _job_name("churn-train")},
                ),
                "ResultSelector": {
                    "job_arn.$": "$.TrainingJobArn",
                    "status.$": "$.TrainingJobStatus",
                    "model_data_url.$": "$.ModelArtifacts.S3ModelArtifacts",
                },
                "ResultPath": "$.training",
                "Next": "TrainingComplete",
            },
            "TrainingComplete": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$.training.status",
                        "StringEquals": "Completed",
                        "Next": "Evaluate",
                    },
                    {
                        "Or": [
                            {"Variable": "$.training.status", "StringEquals": "Failed"},
                            {"Variable": "$.training.status", "StringEquals": "Stopped"},
                        ],
                        "Next": "TrainingFailed",
                    },
                ],
                "Default": "WaitForTraining",
            },
            "TrainingFailed": {
                "Type": "Fail",
                "Error": "TrainingJobFailed",
                "Cause": "The SageMaker training job failed or was stopped.",
            },
            "Evaluate": {
                **_task(
                    "aws-sdk:sagemaker:createProcessingJob",
                    _processing_job(
                        "churn-eval",
                        sklearn,
                        "evaluate.py",
                        {"model": "$.training.model_data_url"},
                        "evaluation",
                    ),
                ),
                "ResultSelector": {"job_arn.$": "$.ProcessingJobArn"},
                "ResultPath": "$.evaluation",
                "Next": "LoadEvaluationMetrics",
            },
            "LoadEvaluationMetrics": {
                **_task(
                    "dynamodb:getItem",
                    {
                        "TableName": EVALUATIONS_TABLE,
                        "Key": {"run_id": {"S.$": "$$.Execution.Name"}},
                    },
                ),
                "ResultSelector": {
                    "auc.$": "States.StringToJson($.Item.auc.N)",
                    "f1.$": "States.StringToJson($.Item.f1.N)",
                    "precision.$": "States.StringToJson($.Item.precision.N)",
                    "recall.$": "States.StringToJson($.Item.recall.N)",
                },
                "ResultPath": "$.metrics",
                "Next": "QualityGate",
            },
            "QualityGate": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$.metrics.auc",
                        "NumericGreaterThanEquals": MIN_AUC,
                        "Next": "RegisterModel",
                    }
                ],
                "Default": "ModelQualityGateFailed",
            },
            "ModelQualityGateFailed": {
                "Type": "Fail",
                "Error": "ModelQualityGateFailed",
                "Cause": (
                    f"Validation AUC is below the release threshold of {MIN_AUC}; "
                    "the model was not registered."
                ),
            },
            "RegisterModel": {
                **_task(
                    "aws-sdk:sagemaker:createModelPackage",
                    {
                        "ModelPackageGroupName": CHURN_GROUP,
                        "ModelPackageDescription.$": (
                            "States.Format('XGBoost churn classifier trained by {}', "
                            "$$.Execution.Name)"
                        ),
                        "ModelApprovalStatus": "PendingManualApproval",
                        "InferenceSpecification": {
                            "Containers": [
                                {
                                    "Image": xgboost,
                                    "ModelDataUrl.$": "$.training.model_data_url",
                                }
                            ],
                            "SupportedContentTypes": ["text/csv"],
                            "SupportedResponseMIMETypes": ["text/csv"],
                            "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
                            "SupportedTransformInstanceTypes": ["ml.m5.large"],
                        },
                        "ModelMetrics": {
                            "ModelQuality": {
                                "Statistics": {
                                    "ContentType": "application/json",
                                    "S3Uri.$": (
                                        f"States.Format('s3://{ARTIFACTS_BUCKET}/churn/"
                                        "evaluation/{}/evaluation.json', $$.Execution.Name)"
                                    ),
                                }
                            }
                        },
                        "MetadataProperties": {
                            "CommitId.$": "$.git_sha",
                            "Repository": "https://github.com/example-org/churn-model",
                            "GeneratedBy.$": "$$.Execution.Id",
                        },
                        "CustomerMetadataProperties": {
                            "mlmeta:execution-arn.$": "$$.Execution.Id",
                            "mlmeta:training-job-arn.$": "$.training.job_arn",
                            "mlmeta:dataset-uri.$": "$.dataset.uri",
                            "auc.$": "States.Format('{}', $.metrics.auc)",
                            "f1.$": "States.Format('{}', $.metrics.f1)",
                        },
                    },
                ),
                "ResultSelector": {"model_package_arn.$": "$.ModelPackageArn"},
                "ResultPath": "$.registered",
                "End": True,
            },
        },
    }


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
                **_task(
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
                            **_task(
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
                **_task(
                    "aws-sdk:s3:putObject",
                    {
                        "Bucket": ARTIFACTS_BUCKET,
                        "Key.$": "States.Format('churn/scores/{}/_manifest.json', $$.Execution.Name)",
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
