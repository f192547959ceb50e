"""SageMaker's model card content schema, as ``check_sagemaker_content`` enforces it.

The ``Content`` of CreateModelCard follows the model card JSON schema of the
SageMaker Developer Guide ("Model card JSON schema"): the top level and its
sections are closed (``additionalProperties: false``), texts have the lengths
and lists the sizes below, an evaluation needs a ``name``, a metric group a
``name`` and ``metric_data``, and a metric a ``name``, a ``type`` and a
``value`` of that type. ``model_package_details`` is filled by SageMaker from
the registry; mlmeta does not read it on import, so only the fields it writes
are checked there and the rest is left open.
"""

from __future__ import annotations

from typing import Any

from sources.cards._sagemaker_layout import RISK_RATINGS
from sources.cards._schema import AnyJson, Arr, Bool, Enum, Num, Obj, OneOf, Spec, Str
from sources.errors import InputError

SOURCE = "sagemaker"

_S1024, _S2048 = Str(1024), Str(2048)
_IMAGES = Obj({"container_image": Arr(_S1024, 15)}, closed=True)
_TRAINING_METRIC = Obj(
    {"name": Str(255, min=1), "notes": _S1024, "value": Num()},
    required=("name", "value"),
    closed=True,
)
_HYPER_PARAMETER = Obj(
    {"name": Str(255, min=1), "value": Str(255, min=1)}, required=("name", "value"), closed=True
)
_METRIC_VALUES: dict[str, Spec] = {
    "number": Num(),
    "string": Str(63),
    "boolean": Bool(),
    "linear_graph": Arr(AnyJson()),
    "bar_chart": Arr(AnyJson()),
    "matrix": Arr(AnyJson()),
}
_AXIS = OneOf((Str(63), Arr(Str(63))), "a string or an array of strings")


class _Metric:
    """A metric of an evaluation: its ``value`` must be of the ``type`` it declares."""

    shape = Obj(
        {
            "name": Str(255, min=1),
            "notes": _S1024,
            "type": Enum(tuple(_METRIC_VALUES)),
            "value": AnyJson(),
            "x_axis_name": _AXIS,
            "y_axis_name": _AXIS,
        },
        required=("name", "type", "value"),
        closed=True,
    )

    def check(self, value: Any, path: str) -> None:
        self.shape.check(value, path)
        _METRIC_VALUES[value["type"]].check(value["value"], f"{path}.value")


SCHEMA = Obj(
    closed=True,
    fields={
        "model_overview": Obj(
            {
                "model_description": _S1024,
                "model_creator": _S1024,
                "model_artifact": Arr(_S1024, 15),
                "algorithm_type": _S1024,
                "problem_type": _S1024,
                "model_owner": _S1024,
                "model_id": _S1024,
                "model_name": _S1024,
                "model_version": Num(min=1),
                "inference_environment": _IMAGES,
            },
            closed=True,
        ),
        "intended_uses": Obj(
            {
                "purpose_of_model": _S2048,
                "intended_uses": _S2048,
                "factors_affecting_model_efficiency": _S2048,
                "risk_rating": Enum(RISK_RATINGS),
                "explanations_for_risk_rating": _S2048,
            },
            closed=True,
        ),
        "business_details": Obj(
            {
                "business_problem": _S2048,
                "business_stakeholders": _S2048,
                "line_of_business": _S2048,
            },
            closed=True,
        ),
        "training_details": Obj(
            {
                "objective_function": Obj(
                    {
                        "function": Obj(
                            {
                                "function": Enum(("Maximize", "Minimize")),
                                "facet": Str(63),
                                "condition": Str(63),
                            },
                            closed=True,
                        ),
                        "notes": _S1024,
                    },
                    closed=True,
                ),
                "training_observations": _S1024,
                "training_job_details": Obj(
                    {
                        "training_arn": _S1024,
                        "training_datasets": Arr(_S1024, 15),
                        "training_environment": _IMAGES,
                        "training_metrics": Arr(_TRAINING_METRIC, 50),
                        "user_provided_training_metrics": Arr(_TRAINING_METRIC, 50),
                        "hyper_parameters": Arr(_HYPER_PARAMETER, 100),
                        "user_provided_hyper_parameters": Arr(_HYPER_PARAMETER, 100),
                    },
                    closed=True,
                ),
            },
            closed=True,
        ),
        "evaluation_details": Arr(
            Obj(
                {
                    "name": Str(63, min=1),
                    "evaluation_observation": Str(2096),
                    "evaluation_job_arn": Str(256),
                    "datasets": Arr(_S1024, 10),
                    "metadata": Obj(values=_S1024, max_keys=50),
                    "metric_groups": Arr(
                        Obj(
                            {"name": Str(63, min=1), "metric_data": Arr(_Metric())},
                            required=("name", "metric_data"),
                            closed=True,
                        )
                    ),
                },
                required=("name",),
                closed=True,
            )
        ),
        "additional_information": Obj(
            {
                "ethical_considerations": _S2048,
                "caveats_and_recommendations": _S2048,
                "custom_details": Obj(values=_S1024),
            },
            closed=True,
        ),
        "model_package_details": Obj(
            {
                "model_package_arn": _S1024,
                "model_package_group_name": _S1024,
                "model_package_version": Num(min=1),
                "model_approval_status": Enum(("Approved", "Rejected", "PendingManualApproval")),
            }
        ),
    },
)


def check_sagemaker_content(document: Any) -> None:
    """``InputError`` naming the first key of ``document`` that does not fit the schema."""
    try:
        SCHEMA.check(document, "")
    except InputError as exc:
        raise InputError(
            f"{exc.message} (SageMaker model card content schema)", source=SOURCE
        ) from None
