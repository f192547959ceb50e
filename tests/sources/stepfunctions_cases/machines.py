"""State machines the Step Functions tests run in moto (``execute_state_machine``).

Each exercises one shape of history. Errors come from an ``aws-sdk`` call
that moto rejects every time: ``s3:getObject`` on a bucket that does not
exist (``s3.NoSuchBucketException``). Waits are short: moto sleeps them in
real time. Outputs of the succeeding tasks must not hold timestamps (see
``who_am_i``).
"""

from __future__ import annotations

from typing import Any

ROLE_ARN = "arn:aws:iam::123456789012:role/mlmeta-test-states"
MISSING_BUCKET = "mlmeta-test-no-such-bucket"


def get_missing_object(**extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Parameters": {"Bucket": MISSING_BUCKET, "Key": "missing.csv"},
        **extra,
    }


def who_am_i(**extra: Any) -> dict[str, Any]:
    """A task that succeeds with the same string-only output whatever moto holds.

    (``s3:listBuckets`` would not do: once any bucket exists its output has
    a timestamp, and moto then answers DescribeExecution with HTTP 500.)
    """
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:sts:getCallerIdentity",
        "Parameters": {},
        **extra,
    }


def wait(seconds: int, **extra: Any) -> dict[str, Any]:
    return {"Type": "Wait", "Seconds": seconds, **extra}


SUCCESS = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"go": True}, "ResultPath": "$.prep", "Next": "Gate"},
        "Gate": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.prep.go", "BooleanEquals": True, "Next": "Train"}],
            "Default": "Stop",
        },
        "Train": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sagemaker:createTrainingJob",
            "Parameters": {
                "TrainingJobName.$": "$.job_name",
                "RoleArn": ROLE_ARN,
                "AlgorithmSpecification": {"TrainingImage": "xgboost", "TrainingInputMode": "File"},
                "OutputDataConfig": {"S3OutputPath": "s3://mlmeta-test/models"},
                "ResourceConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "VolumeSizeInGB": 1,
                },
                "StoppingCondition": {"MaxRuntimeInSeconds": 60},
            },
            "ResultPath": "$.training",
            "Next": "Done",
        },
        "Stop": {"Type": "Fail", "Error": "Stopped", "Cause": "gate closed"},
        "Done": {"Type": "Succeed"},
    },
}

FAIL_STATE = {
    "StartAt": "Check",
    "States": {
        "Check": {"Type": "Pass", "Next": "Reject"},
        "Reject": {
            "Type": "Fail",
            "Error": "ModelQualityGateFailed",
            "Cause": "AUC 0.71 is below 0.85",
        },
    },
}

CAUGHT = {
    "StartAt": "Fetch",
    "States": {
        "Fetch": get_missing_object(
            Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}],
            Next="Done",
        ),
        "Recover": {"Type": "Pass", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}

RETRIED = {
    "StartAt": "Fetch",
    "States": {
        "Fetch": get_missing_object(
            Retry=[
                {
                    "ErrorEquals": ["States.ALL"],
                    "MaxAttempts": 2,
                    "IntervalSeconds": 1,
                    "BackoffRate": 1.0,
                }
            ],
            End=True,
        )
    },
}

PARALLEL = {
    "StartAt": "Features",
    "States": {
        "Features": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Customers", "States": {"Customers": {"Type": "Pass", "End": True}}},
                {
                    "StartAt": "Usage",
                    "States": {
                        "Usage": {"Type": "Pass", "Next": "UsageWindow"},
                        "UsageWindow": who_am_i(End=True),
                    },
                },
            ],
            "ResultPath": "$.features",
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
    },
}

PARALLEL_FAILS = {
    "StartAt": "Features",
    "States": {
        "Features": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Slow", "States": {"Slow": wait(4, End=True)}},
                {
                    # Settle first, so Slow has surely been entered when Broken fails
                    # (the branches really run concurrently, and a loaded machine is slow).
                    "StartAt": "Settle",
                    "States": {
                        "Settle": wait(1, Next="Broken"),
                        "Broken": {"Type": "Fail", "Error": "BranchFailed", "Cause": "b"},
                    },
                },
            ],
            "End": True,
        }
    },
}

MAP = {
    "StartAt": "Score",
    "States": {
        "Score": {
            "Type": "Map",
            "ItemsPath": "$.shards",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Load",
                "States": {
                    "Load": {"Type": "Pass", "Next": "Predict"},
                    "Predict": who_am_i(End=True),
                },
            },
            "ResultPath": "$.scores",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}

MAP_FAILS = {
    "StartAt": "Score",
    "States": {
        "Score": {
            "Type": "Map",
            "ItemsPath": "$.shards",
            "Iterator": {"StartAt": "Fetch", "States": {"Fetch": get_missing_object(End=True)}},
            "End": True,
        }
    },
}

LONG_WAIT = {"StartAt": "Sleep", "States": {"Sleep": wait(600, End=True)}}

TIMES_OUT = {"TimeoutSeconds": 1, "StartAt": "Sleep", "States": {"Sleep": wait(30, End=True)}}

ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}

# Succeeds or fails on the input's "fail" flag: for listing and status filters.
SWITCH = {
    "StartAt": "Decide",
    "States": {
        "Decide": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Broken"}],
            "Default": "Fine",
        },
        "Broken": {"Type": "Fail", "Error": "RequestedFailure", "Cause": "the input asked for it"},
        "Fine": {"Type": "Succeed"},
    },
}
