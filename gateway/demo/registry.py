"""The model-registry side of the demo: model card contents and the fraud pipeline.

Model card content follows the SageMaker model card JSON schema
(``model_overview``, ``intended_uses``, ``business_details``,
``training_details``, ``evaluation_details``, ``additional_information``,
``model_package_details``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.demo.names import (
    ACCOUNT_ID,
    ARTIFACTS_BUCKET,
    CHURN_GROUP,
    DATASETS_BUCKET,
    FRAUD_GROUP,
    MIN_AUC,
    SAGEMAKER_ROLE,
    XGBOOST_IMAGE,
    role_arn,
)
from gateway.demo.plan import TrainingRun

CHURN_CARD_DRAFT = "churn-model-v3"  # updated once: two card versions
CHURN_CARD_ARCHIVED = "churn-model-v1"
FRAUD_CARD = "fraud-detector-v1"


@dataclass(frozen=True)
class FraudVersion:
    approval: str
    description: str
    metrics: dict[str, float]
    pipeline_run: str  # display name of the SageMaker pipeline execution


FRAUD_VERSIONS = (
    FraudVersion(
        "Approved",
        "LightGBM card-fraud detector, trained on October transactions.",
        {"auc": 0.957, "precision_at_1pct_fpr": 0.81, "recall": 0.74},
        "fraud-train-2026-11-03",
    ),
    FraudVersion(
        "PendingManualApproval",
        "LightGBM card-fraud detector with merchant embeddings.",
        {"auc": 0.963, "precision_at_1pct_fpr": 0.84, "recall": 0.77},
        "fraud-train-2026-11-17",
    ),
)


def _metric_data(metrics: dict[str, float]) -> list[dict[str, Any]]:
    return [{"name": name, "type": "number", "value": value} for name, value in metrics.items()]


def churn_card(
    run: TrainingRun,
    version: int,
    package_arn: str,
    training_job_arn: str,
    region: str,
    *,
    complete: bool,
) -> dict[str, Any]:
    """Card of a churn-model version; ``complete=False`` is the first draft."""
    xgboost = XGBOOST_IMAGE.format(region=region)
    dataset = f"s3://{DATASETS_BUCKET}/{run.dataset_key}"
    hp = run.hyperparameters
    content: dict[str, Any] = {
        "model_overview": {
            "model_name": f"{CHURN_GROUP}-v{version}",
            "model_version": float(version),
            "model_description": (
                "Gradient-boosted trees (XGBoost) predicting the probability that a "
                "subscriber cancels within the next 30 days."
            ),
            "model_owner": "group:default/ml-platform",
            "model_creator": "user:default/alice",
            "problem_type": "Binary Classification",
            "algorithm_type": "XGBoost",
            "model_artifact": [
                f"s3://{ARTIFACTS_BUCKET}/churn/models/churn-train-{run.name}/output/model.tar.gz"
            ],
            "inference_environment": {"container_image": [xgboost]},
        },
        "intended_uses": {
            "purpose_of_model": "Rank subscribers by churn risk for retention campaigns.",
            "intended_uses": (
                "Weekly batch scoring of active subscribers; the top decile is offered "
                "a retention call."
            ),
            "factors_affecting_model_efficiency": (
                "Tenure, contract type and recent support tickets dominate; scores drift "
                "after pricing changes."
            ),
            "risk_rating": "Medium",
            "explanations_for_risk_rating": (
                "Decisions affect which customers get offers, not service eligibility."
            ),
        },
        "business_details": {
            "business_problem": "Reduce voluntary churn of consumer subscriptions.",
            "business_stakeholders": "Customer retention, Marketing analytics",
            "line_of_business": "Consumer subscriptions",
        },
        "training_details": {
            "objective_function": {
                "function": {"function": "Minimize", "facet": "Loss", "condition": "logloss"},
                "notes": "binary:logistic objective, early stopping on validation AUC.",
            },
            "training_observations": f"Trained on the {run.snapshot} snapshot (40k customers).",
            "training_job_details": {
                "training_arn": training_job_arn,
                "training_datasets": [dataset],
                "training_environment": {"container_image": [xgboost]},
                "hyper_parameters": [
                    {"name": "eta", "value": str(hp["learning_rate"])},
                    {"name": "num_round", "value": str(hp["n_estimators"])},
                    {"name": "max_depth", "value": str(hp["max_depth"])},
                    {"name": "subsample", "value": str(hp["subsample"])},
                ],
                "training_metrics": [
                    {"name": "train:auc", "value": round(run.metrics["auc"] + 0.03, 3)}
                ],
            },
        },
        "evaluation_details": [
            {
                "name": "holdout-2026-10",
                "evaluation_observation": (
                    f"Passes the release gate (AUC >= {MIN_AUC}) on the October holdout."
                ),
                "evaluation_job_arn": (
                    f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:processing-job/churn-eval-{run.name}"
                ),
                "datasets": [f"s3://{DATASETS_BUCKET}/churn/holdout/2026-10/"],
                "metric_groups": [
                    {
                        "name": "binary_classification_metrics",
                        "metric_data": _metric_data(run.metrics),
                    }
                ],
            }
        ],
        "model_package_details": {
            "model_package_arn": package_arn,
            "model_package_group_name": CHURN_GROUP,
            "model_package_version": float(version),
            "model_approval_status": run.approval,
        },
    }
    if complete:
        content["additional_information"] = {
            "ethical_considerations": (
                "No protected attributes are features; age band is checked for "
                "disparate offer rates every month."
            ),
            "caveats_and_recommendations": (
                "Not validated for business accounts. Retrain after any price change."
            ),
            "custom_details": {"catalog_entity": "resource:default/churn-model"},
        }
        content["evaluation_details"].append(
            {
                "name": "segment-slices",
                "evaluation_observation": "AUC per contract type on the October holdout.",
                "datasets": [f"s3://{DATASETS_BUCKET}/churn/holdout/2026-10/"],
                "metric_groups": [
                    {
                        "name": "auc_by_contract",
                        "metric_data": _metric_data(
                            {"month-to-month": 0.884, "one-year": 0.912, "two-year": 0.931}
                        ),
                    }
                ],
            }
        )
    return content


def fraud_card(package_arn: str, version: FraudVersion, region: str) -> dict[str, Any]:
    return {
        "model_overview": {
            "model_name": f"{FRAUD_GROUP}-v1",
            "model_description": "Scores card transactions for fraud in real time.",
            "model_owner": "group:default/fraud-team",
            "model_creator": "user:default/carol",
            "problem_type": "Binary Classification",
            "algorithm_type": "LightGBM",
        },
        "intended_uses": {
            "purpose_of_model": "Hold suspicious card transactions for review.",
            "intended_uses": "Online scoring behind the payments API; threshold at 1% FPR.",
            "risk_rating": "High",
            "explanations_for_risk_rating": "A false positive blocks a customer's payment.",
        },
        "evaluation_details": [
            {
                "name": "transactions-2026-10",
                "datasets": [f"s3://{DATASETS_BUCKET}/fraud/transactions/2026-11-01/"],
                "metric_groups": [
                    {"name": "classification", "metric_data": _metric_data(version.metrics)}
                ],
            }
        ],
        "model_package_details": {
            "model_package_arn": package_arn,
            "model_package_group_name": FRAUD_GROUP,
            "model_package_version": 1.0,
            "model_approval_status": version.approval,
        },
    }


def fraud_pipeline_definition(region: str) -> dict[str, Any]:
    """A SageMaker Pipelines definition (schema version 2020-12-01)."""
    image = f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/fraud-lightgbm:0.9.2"
    return {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [
            {
                "Name": "TransactionsUri",
                "Type": "String",
                "DefaultValue": f"s3://{DATASETS_BUCKET}/fraud/transactions/2026-11-01/",
            },
            {"Name": "LearningRate", "Type": "Float", "DefaultValue": 0.05},
            {"Name": "NumLeaves", "Type": "Integer", "DefaultValue": 63},
        ],
        "Steps": [
            {
                "Name": "PrepareTransactions",
                "Type": "Processing",
                "Arguments": {
                    "ProcessingResources": {
                        "ClusterConfig": {
                            "InstanceType": "ml.m5.xlarge",
                            "InstanceCount": 1,
                            "VolumeSizeInGB": 30,
                        }
                    },
                    "AppSpecification": {
                        "ImageUri": image,
                        "ContainerEntrypoint": ["python3", "prepare.py"],
                    },
                    "RoleArn": role_arn(SAGEMAKER_ROLE),
                    "ProcessingInputs": [
                        {
                            "InputName": "transactions",
                            "S3Input": {
                                "S3Uri": {"Get": "Parameters.TransactionsUri"},
                                "LocalPath": "/opt/ml/processing/input",
                                "S3DataType": "S3Prefix",
                                "S3InputMode": "File",
                            },
                        }
                    ],
                },
            },
            {
                "Name": "TrainFraudModel",
                "Type": "Training",
                "DependsOn": ["PrepareTransactions"],
                "Arguments": {
                    "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
                    "HyperParameters": {
                        "learning_rate": {
                            "Std:Join": {"On": "", "Values": [{"Get": "Parameters.LearningRate"}]}
                        },
                        "num_leaves": {
                            "Std:Join": {"On": "", "Values": [{"Get": "Parameters.NumLeaves"}]}
                        },
                    },
                    "OutputDataConfig": {"S3OutputPath": f"s3://{ARTIFACTS_BUCKET}/fraud/models"},
                    "ResourceConfig": {
                        "InstanceType": "ml.m5.2xlarge",
                        "InstanceCount": 1,
                        "VolumeSizeInGB": 50,
                    },
                    "RoleArn": role_arn(SAGEMAKER_ROLE),
                    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                },
            },
            {
                "Name": "RegisterFraudModel",
                "Type": "RegisterModel",
                "DependsOn": ["TrainFraudModel"],
                "Arguments": {
                    "ModelPackageGroupName": FRAUD_GROUP,
                    "ModelApprovalStatus": "PendingManualApproval",
                    "InferenceSpecification": {
                        "Containers": [
                            {
                                "Image": image,
                                "ModelDataUrl": {
                                    "Get": "Steps.TrainFraudModel.ModelArtifacts.S3ModelArtifacts"
                                },
                            }
                        ],
                        "SupportedContentTypes": ["application/json"],
                        "SupportedResponseMIMETypes": ["application/json"],
                    },
                },
            },
        ],
    }
