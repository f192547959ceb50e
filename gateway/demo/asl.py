"""Amazon States Language definition of the demo's churn training pipeline.

It and the scoring pipeline (``asl_scoring``) are written the way a team
without Lambda functions writes them for AWS, and moto's interpreter
(``execute_state_machine``) really runs them:

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

from gateway.demo.names import (
    ACCOUNT_ID,
    ARTIFACTS_BUCKET,
    CHURN_GROUP,
    EVALUATIONS_TABLE,
    FEATURES_IMAGE,
    MIN_AUC,
    SAGEMAKER_ROLE,
    SKLEARN_IMAGE,
    XGBOOST_IMAGE,
    role_arn,
)


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


def task(resource: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "Task", "Resource": f"arn:aws:states:::{resource}", "Parameters": parameters}


def _pause(next_state: str) -> dict[str, Any]:
    """Time given to a processing job before the next step reads its output.

    A describe-and-poll loop like training's would be exact but costs three
    states per job. The demo's history passes 0 s; its live run a few
    seconds, so it can be watched step by step.
    """
    return {"Type": "Wait", "SecondsPath": "$.step_wait_seconds", "Next": next_state}


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
                **task(
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
                **task(
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
                "Next": "WaitForPreprocessing",
            },
            "WaitForPreprocessing": _pause("BuildFeatures"),
            "BuildFeatures": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "CustomerFeatures",
                        "States": {
                            "CustomerFeatures": {
                                **task(
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
                                **task(
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
                "Next": "WaitForFeatures",
            },
            "WaitForFeatures": _pause("Train"),
            "Train": {
                **task(
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
                        "OutputDataConfig": {
                            "S3OutputPath": f"s3://{ARTIFACTS_BUCKET}/churn/models"
                        },
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
                **task(
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
                **task(
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
                "Next": "WaitForEvaluation",
            },
            "WaitForEvaluation": _pause("LoadEvaluationMetrics"),
            "LoadEvaluationMetrics": {
                **task(
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
                        # A run asked not to register (the staging pipeline's) ends here.
                        "And": [
                            {"Variable": "$.metrics.auc", "NumericGreaterThanEquals": MIN_AUC},
                            {"Variable": "$.register_model", "IsPresent": True},
                            {"Variable": "$.register_model", "BooleanEquals": False},
                        ],
                        "Next": "PassedNotRegistered",
                    },
                    {
                        "Variable": "$.metrics.auc",
                        "NumericGreaterThanEquals": MIN_AUC,
                        "Next": "RegisterModel",
                    },
                ],
                "Default": "ModelQualityGateFailed",
            },
            "PassedNotRegistered": {
                "Type": "Succeed",
                "Comment": "Passed the quality gate; the run asked for no registration.",
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
                **task(
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
