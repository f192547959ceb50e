"""The ways to name a lineage node, shared by ``lineage(of:)`` and ``mlmeta lineage export --of``.

An auditor holds whatever the system at hand shows: a GraphQL id from the
portal, a lineage key from a bundle, an ARN from the AWS console, a dataset URI
from a pipeline's config. Both entry points take all of them, told apart by
shape:

- a lineage key ``<Type>:<natural key>`` (``ModelVersion:arn:aws:...``);
- a model package, Step Functions execution, SageMaker pipeline execution or
  endpoint ARN;
- a dataset URI (``scheme://...``, optionally ``@version``);
- otherwise a GraphQL global id (base64url, which never holds a ``:``).

Pure parsing, no I/O: whether the node exists is for the caller to ask.
"""

from __future__ import annotations

import re

from resolvers.ids import decode_id
from sources.errors import InputError
from sources.lineage.model import NodeType, node_key, split_key

FORMS = (
    "a global id, a lineage key (Type:key), a model package, pipeline execution or "
    "endpoint ARN, or a dataset URI"
)
_ARN = r"^arn:aws[a-z-]*:{}:[a-z0-9-]+:\d{{12}}:{}"
_ARN_TYPES = tuple(
    (re.compile(_ARN.format(service, resource)), node_type)
    for service, resource, node_type in (
        ("sagemaker", "model-package/", NodeType.MODEL_VERSION),
        ("states", "execution:", NodeType.PIPELINE_EXECUTION),
        ("sagemaker", "pipeline/[^/]+/execution/", NodeType.PIPELINE_EXECUTION),
        ("sagemaker", "endpoint/", NodeType.DEPLOYMENT),
    )
)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_TYPES = frozenset(NodeType)


def lineage_key_of(value: str) -> str:
    """The lineage node key ``value`` names (see the module docstring).

    ``InputError`` when ``value`` has none of the shapes, or names something
    lineage does not hold (an ARN of another resource, an id of a ``Pipeline``).
    """
    prefix = value.partition(":")[0]
    if prefix in _TYPES:
        node_type, natural = split_key(value)
        return node_key(node_type, natural)
    for pattern, node_type in _ARN_TYPES:
        if pattern.match(value):
            return _checked(node_key(node_type, value))
    if value.startswith("arn:"):
        raise InputError(
            f"{value[:80]!r} is not a model package, execution or endpoint ARN; "
            "pass a lineage key such as 'Deployment:<arn>'"
        )
    if _URI.match(value):
        return _checked(node_key(NodeType.DATASET, value))
    try:
        type_name, natural = decode_id(value)
    except InputError:
        raise InputError(f"{value[:80]!r} is not {FORMS}") from None
    if type_name not in _TYPES:
        raise InputError(f"{value[:80]!r} is the id of a {type_name}, which has no lineage")
    return _checked(f"{type_name}:{natural}")


def _checked(key: str) -> str:
    split_key(key)
    return key
