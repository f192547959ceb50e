"""Names and ARNs shared by the demo's AWS seed and its catalog files.

The catalog files (``gateway/demo/catalog``) spell the same names out in
their annotations; change both together.
"""

from __future__ import annotations

ACCOUNT_ID = "123456789012"  # moto's default account
TRAINING_PIPELINE = "churn-training-pipeline"
# The same definition, run continuously on staging by the demo's heartbeat (``live``).
STAGING_PIPELINE = "churn-training-staging"
SCORING_PIPELINE = "churn-batch-scoring"
DATASETS_BUCKET = "mlmeta-demo-datasets"
ARTIFACTS_BUCKET = "mlmeta-demo-artifacts"
EVALUATIONS_TABLE = "mlmeta-demo-model-evaluations"
CHURN_GROUP = "churn-model"
FRAUD_GROUP = "fraud-detector"
FRAUD_PIPELINE = "fraud-detector-training"  # a SageMaker pipeline
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
