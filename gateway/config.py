"""Settings, read once at start-up from a TOML file and ``MLMETA_*`` variables.

Precedence: explicit overrides (the CLI's flags) > environment > config file >
defaults. Every setting is documented in README.md with its default; the table
there is generated from ``SETTINGS_DOC`` so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

from sources.catalog import annotations as linking

ENV_PREFIX = "MLMETA_"
TRUSTED_DOCUMENT_MODES = ("off", "apq", "enforce")
_ANNOTATION_SETTINGS = (
    "annotations_step_functions",
    "annotations_sagemaker_pipeline",
    "annotations_model_package_group",
    "annotations_dataset_uri",
)


class ConfigError(ValueError):
    """A setting has a value the gateway cannot use; the message names it."""


@dataclass(frozen=True)
class ServiceToken:
    """A static token for automation; only its sha256 is kept in memory."""

    name: str
    sha256: str
    can_write: bool = False

    @classmethod
    def parse(cls, entry: str) -> ServiceToken:
        """Parse ``name:sha256:<hex>[:write]`` or ``name:token:<plain>[:write]``."""
        parts = entry.strip().split(":")
        if len(parts) not in (3, 4) or parts[1] not in ("sha256", "token") or not parts[0]:
            raise ConfigError(
                "MLMETA_SERVICE_TOKENS entries look like 'name:sha256:<hex>[:write]' "
                "or 'name:token:<plain>[:write]'"
            )
        name, form, value = parts[0], parts[1], parts[2]
        if len(parts) == 4 and parts[3] not in ("write", "read"):
            raise ConfigError(f"service token {name!r}: scope must be 'read' or 'write'")
        if form == "token":
            if len(value) < 16:
                raise ConfigError(f"service token {name!r} is shorter than 16 characters")
            value = hashlib.sha256(value.encode()).hexdigest()
        elif len(value) != 64 or any(c not in "0123456789abcdef" for c in value.lower()):
            raise ConfigError(f"service token {name!r}: sha256 must be 64 hex digits")
        return cls(
            name=name, sha256=value.lower(), can_write=len(parts) == 4 and parts[3] == "write"
        )


@dataclass(frozen=True)
class TokenBudget:
    """A service token's own query budget: cost points per second, and burst."""

    name: str
    per_second: float
    burst: int

    @classmethod
    def parse(cls, entry: str) -> TokenBudget:
        """Parse ``name:<points per second>:<burst>``."""
        parts = entry.strip().split(":")
        try:
            if len(parts) != 3 or not parts[0]:
                raise ValueError(entry)
            budget = cls(name=parts[0], per_second=float(parts[1]), burst=int(parts[2]))
        except ValueError as exc:
            raise ConfigError(
                "MLMETA_SERVICE_TOKEN_BUDGETS entries look like 'name:<per second>:<burst>'"
            ) from exc
        if budget.per_second <= 0 or budget.burst < 1:
            raise ConfigError(f"budget of {budget.name!r}: rate and burst must be positive")
        return budget


@dataclass(frozen=True)
class Settings:
    """Every knob of the gateway. Frozen: read once, passed around, never mutated."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "info"
    data_dir: Path = Path("data")
    database_url: str = ""
    auto_migrate: bool = True
    metadb_statement_timeout_seconds: float = 30.0
    metadb_connect_timeout_seconds: float = 10.0
    metadb_pool_size: int = 10
    metadb_max_overflow: int = 10

    catalog_backend: str = "folder"
    catalog_folder: str = ""
    backstage_url: str = ""
    backstage_token: str = ""
    backstage_batch_size: int = 500
    catalog_timeout_seconds: float = 10.0
    annotations_step_functions: tuple[str, ...] = linking.STEP_FUNCTIONS_ARN
    annotations_sagemaker_pipeline: tuple[str, ...] = linking.SAGEMAKER_PIPELINE
    annotations_model_package_group: tuple[str, ...] = linking.MODEL_PACKAGE_GROUP
    annotations_dataset_uri: tuple[str, ...] = linking.DATASET_URI

    aws_region: str = "us-east-1"
    aws_endpoint_url: str = ""
    aws_timeout_seconds: float = 10.0
    aws_max_attempts: int = 3
    stepfunctions_timeout_seconds: float = 0.0
    sagemaker_timeout_seconds: float = 0.0
    cloudwatch_timeout_seconds: float = 0.0
    stepfunctions_enabled: bool = True
    sagemaker_enabled: bool = True

    jwks_url: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = "backstage"
    jwt_algorithms: tuple[str, ...] = ("ES256", "RS256")
    userinfo_url: str = ""
    ownership_cache_seconds: float = 60.0
    service_tokens: tuple[ServiceToken, ...] = ()
    allow_anonymous: bool = False

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_body_bytes: int = 1_048_576
    max_page_size: int = 100
    max_selections: int = 300
    max_expanded_selections: int = 2000
    max_cost: int = 50_000
    budget_per_second: float = 1000.0
    budget_burst: int = 200_000
    service_token_budgets: tuple[TokenBudget, ...] = ()
    graphiql: bool = True
    trusted_documents: str = "off"
    trusted_documents_allow: tuple[str, ...] = ("service",)
    readiness_timeout_seconds: float = 3.0
    readiness_cache_seconds: float = 5.0
    max_execution_seconds: float = 10.0
    max_response_bytes: int = 16_777_216
    max_concurrent_operations: int = 8
    loop_stall_warn_ms: float = 250.0
    federation: bool = True
    metrics: bool = True
    metrics_token: str = ""
    log_format: str = "text"

    redis_url: str = ""
    poll_interval_seconds: float = 2.0
    poll_lease_seconds: float = 0.0
    shutdown_grace_seconds: int = 20
    events_secret: str = ""
    max_step_fetches: int = 8
    registry_cache_seconds: float = 30.0
    live_cache_seconds: float = 1.0
    breaker_failures: int = 5
    breaker_cooldown_seconds: float = 30.0
    max_staleness_seconds: float = 300.0

    demo: bool = False
    demo_token: str = ""
    demo_step_seconds: int = 3

    def __post_init__(self) -> None:
        if not self.database_url:
            url = f"sqlite+aiosqlite:///{self.data_dir / 'mlmeta.db'}"
            object.__setattr__(self, "database_url", url)
        if not self.catalog_folder:
            object.__setattr__(self, "catalog_folder", str(self.data_dir / "catalog"))
        if self.catalog_backend not in ("folder", "backstage"):
            raise ConfigError("MLMETA_CATALOG_BACKEND must be 'folder' or 'backstage'")
        if self.catalog_backend == "backstage" and not self.backstage_url:
            raise ConfigError("MLMETA_CATALOG_BACKEND=backstage needs MLMETA_BACKSTAGE_URL")
        base = self.backstage_url.rstrip("/")
        if base and not self.jwks_url:
            object.__setattr__(self, "jwks_url", f"{base}/api/auth/.well-known/jwks.json")
        if base and not self.userinfo_url:
            object.__setattr__(self, "userinfo_url", f"{base}/api/auth/v1/userinfo")
        if self.max_page_size < 1 or self.max_depth < 1 or self.workers < 1:
            raise ConfigError("page size, depth and workers must be at least 1")
        if self.metadb_pool_size < 1 or self.metadb_max_overflow < 0:
            raise ConfigError(
                "MLMETA_METADB_POOL_SIZE must be at least 1, MLMETA_METADB_MAX_OVERFLOW at least 0"
            )
        if self.backstage_batch_size < 1:
            raise ConfigError("MLMETA_BACKSTAGE_BATCH_SIZE must be at least 1")
        if (
            min(
                self.catalog_timeout_seconds,
                self.aws_timeout_seconds,
                self.metadb_connect_timeout_seconds,
            )
            <= 0
        ):
            raise ConfigError(
                "MLMETA_CATALOG_TIMEOUT_SECONDS, MLMETA_METADB_CONNECT_TIMEOUT_SECONDS "
                "and AWS timeouts must be positive"
            )
        zero_is_off = (
            self.stepfunctions_timeout_seconds,
            self.sagemaker_timeout_seconds,
            self.cloudwatch_timeout_seconds,
            self.metadb_statement_timeout_seconds,
            self.max_staleness_seconds,
            self.breaker_failures,
            self.live_cache_seconds,
            self.registry_cache_seconds,
        )
        if min(zero_is_off) < 0:
            raise ConfigError(
                "timeouts, staleness, cache times and MLMETA_BREAKER_FAILURES cannot be negative"
            )
        if self.poll_interval_seconds <= 0 or self.poll_lease_seconds < 0:
            raise ConfigError(
                "MLMETA_POLL_INTERVAL_SECONDS must be positive and MLMETA_POLL_LEASE_SECONDS "
                "cannot be negative"
            )
        if self.shutdown_grace_seconds < 0:
            raise ConfigError("MLMETA_SHUTDOWN_GRACE_SECONDS cannot be negative")
        if self.breaker_cooldown_seconds <= 0:
            raise ConfigError("MLMETA_BREAKER_COOLDOWN_SECONDS must be positive")
        for name in _ANNOTATION_SETTINGS:
            if not getattr(self, name):
                raise ConfigError(f"{ENV_PREFIX}{name.upper()} needs at least one annotation key")
        if self.max_cost < 1 or self.max_selections < 1 or self.max_expanded_selections < 1:
            raise ConfigError("cost, selection and expanded-selection limits must be at least 1")
        # A bucket smaller than the cost limit would refuse the largest allowed query forever.
        for owner, burst in [("MLMETA_BUDGET_BURST", self.budget_burst)] + [
            (f"budget of {b.name!r}", b.burst) for b in self.service_token_budgets
        ]:
            if self.budget_per_second > 0 and burst < self.max_cost:
                raise ConfigError(f"{owner}: burst {burst} is below MLMETA_MAX_COST")
        if self.log_format not in ("text", "json"):
            raise ConfigError("MLMETA_LOG_FORMAT must be 'text' or 'json'")
        if self.trusted_documents not in TRUSTED_DOCUMENT_MODES:
            raise ConfigError("MLMETA_TRUSTED_DOCUMENTS must be 'off', 'apq' or 'enforce'")
        if not set(self.trusted_documents_allow) <= {"service", "graphiql"}:
            raise ConfigError(
                "MLMETA_TRUSTED_DOCUMENTS_ALLOW is a comma-separated list of 'service', 'graphiql'"
            )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


SETTINGS_DOC: dict[str, str] = {
    "host": "Address `mlmeta serve` binds to.",
    "port": "Port `mlmeta serve` listens on.",
    "workers": "uvicorn worker processes.",
    "log_level": "Log level (debug, info, warning, error).",
    "data_dir": "Local data folder (SQLite file, demo catalog).",
    "database_url": "Metadata DB URL; default `sqlite+aiosqlite:///<data_dir>/mlmeta.db`. "
    "PostgreSQL: `postgresql+asyncpg://user@host:5432/db`.",
    "auto_migrate": "Apply Alembic migrations on `serve` (SQLite only; run `mlmeta migrate` "
    "for PostgreSQL).",
    "metadb_statement_timeout_seconds": "PostgreSQL cancels a metadb statement running longer "
    "(`UPSTREAM_TIMEOUT`; 0: no limit); a server that does not answer at all is given up on "
    "1 s later. SQLite has no statement timeout.",
    "metadb_connect_timeout_seconds": "Time to open a PostgreSQL connection (handshake "
    "included) or to wait for a pooled one (`UPSTREAM_TIMEOUT`).",
    "metadb_pool_size": "PostgreSQL connections each process keeps open. Replicas x (pool size + "
    "overflow) must stay under the server's `max_connections` (or put PgBouncer in front).",
    "metadb_max_overflow": "PostgreSQL connections opened beyond the pool under load, closed when "
    "returned.",
    "catalog_backend": "`folder` (catalog-info.yaml files) or `backstage` (catalog REST API).",
    "catalog_folder": "Folder of catalog-info.yaml files for the `folder` backend; "
    "default `<data_dir>/catalog`.",
    "backstage_url": "Backstage backend base URL, e.g. `https://portal.example.com`.",
    "backstage_token": "Static service token for principal-free background calls to Backstage.",
    "backstage_batch_size": "Most refs in one `entities/by-refs` call; more are split. "
    "Backstage takes any count but refuses bodies over 100 kB (its JSON body limit): 500 refs "
    "of the longest valid form fit.",
    "catalog_timeout_seconds": "Timeout of each request to the Backstage catalog "
    "(`UPSTREAM_TIMEOUT`).",
    "annotations_step_functions": "Annotation keys (comma-separated, first present wins) "
    "holding the Step Functions state machine ARN of an `ml-pipeline` entity.",
    "annotations_sagemaker_pipeline": "Annotation keys holding the SageMaker pipeline "
    "(name or ARN) of an `ml-pipeline` entity.",
    "annotations_model_package_group": "Annotation keys holding the SageMaker model package "
    "group (name or ARN) an `ml-model` entity claims.",
    "annotations_dataset_uri": "Annotation keys holding the location prefix of a dataset entity.",
    "aws_region": "AWS region of Step Functions and SageMaker.",
    "aws_endpoint_url": "Override of the AWS endpoint (a moto server in the demo and tests).",
    "aws_timeout_seconds": "Connect and read timeout of each AWS call.",
    "aws_max_attempts": "botocore `standard` retry mode attempts.",
    "stepfunctions_timeout_seconds": "Connect and read timeout of Step Functions calls "
    "(0: `aws_timeout_seconds`).",
    "sagemaker_timeout_seconds": "Connect and read timeout of SageMaker calls "
    "(0: `aws_timeout_seconds`).",
    "cloudwatch_timeout_seconds": "Connect and read timeout of CloudWatch calls "
    "(0: `aws_timeout_seconds`).",
    "stepfunctions_enabled": "Use AWS Step Functions as a pipeline source.",
    "sagemaker_enabled": "Use SageMaker as a pipeline, model and card source.",
    "jwks_url": "JWKS of the portal; default `<backstage_url>/api/auth/.well-known/jwks.json`.",
    "jwt_issuer": "Required `iss` of user tokens (empty: not checked).",
    "jwt_audience": "Required `aud` of user tokens.",
    "jwt_algorithms": "Accepted signature algorithms (comma-separated).",
    "userinfo_url": "Where ownership refs are asked when a token has no `ent` claim; "
    "default `<backstage_url>/api/auth/v1/userinfo`.",
    "ownership_cache_seconds": "How long ownership refs from userinfo are cached per token.",
    "service_tokens": "Comma-separated `name:sha256:<hex>[:write]` (or `name:token:<plain>`).",
    "allow_anonymous": "Serve requests without a token as ANONYMOUS (demo only).",
    "max_depth": "Maximum query depth.",
    "max_aliases": "Maximum aliases in one document.",
    "max_tokens": "Maximum lexical tokens in one document.",
    "max_body_bytes": "Maximum request body size in bytes.",
    "max_page_size": "Maximum `first` of any connection.",
    "max_selections": "Maximum selections (fields, fragment spreads, inline fragments) written "
    "in one document; checked before validation.",
    "max_expanded_selections": "Maximum fields in one document once every fragment spread is "
    "replaced by its fragment (counted, not performed); checked before validation.",
    "max_cost": "Maximum static cost of one operation (README: 'Errors and limits').",
    "budget_per_second": "Cost points a principal's budget refills per second (0: off).",
    "budget_burst": "Cost points a principal's budget holds when full.",
    "service_token_budgets": "Comma-separated `name:<per second>:<burst>`: a service token's "
    "own budget.",
    "graphiql": "Serve GraphiQL on GET /graphql with Accept: text/html.",
    "trusted_documents": "`off`: documents are sent in full; `apq`: automatic persisted queries "
    "(clients may send a registered document's sha256 instead, and register new ones); "
    "`enforce`: only registered documents run (see Trusted documents).",
    "trusted_documents_allow": "Who may still send unregistered documents under `enforce` "
    "(comma-separated): `service` (service tokens), `graphiql` (signed-in users in GraphiQL).",
    "readiness_timeout_seconds": "Time each source gets to answer /readyz.",
    "readiness_cache_seconds": "How long a /readyz answer is reused (callers during a check "
    "share it), so probes cannot drive upstream calls (0: check on every call).",
    "max_execution_seconds": "Wall-clock limit of one query or mutation; fields still "
    "pending then are cancelled and answered with `QUERY_TIMEOUT` (0: no limit).",
    "max_response_bytes": "Largest response body; a bigger one is replaced by a "
    "`RESPONSE_TOO_LARGE` error (0: no limit).",
    "max_concurrent_operations": "Queries and mutations one principal may have running at once "
    "(user, service token, or anonymous per client address); more are refused with HTTP 429 "
    "`TOO_MANY_CONCURRENT_OPERATIONS` (0: no limit).",
    "loop_stall_warn_ms": "Log a warning when the event loop is blocked this long (0: off).",
    "federation": "Serve the schema as an Apollo Federation v2 subgraph: `@link`, `@key` on "
    "every `Node` type, `_service` and `_entities` (see Federation, metrics and traces).",
    "metrics": "Serve Prometheus metrics at `GET /metrics` (see Federation, metrics and traces).",
    "metrics_token": "Bearer token `/metrics` requires (empty: only loopback clients may "
    "scrape, 127.0.0.1 or ::1).",
    "log_format": "`text`, or `json`: one JSON object per line with the request id and the "
    "trace id.",
    "redis_url": "Redis for subscription fan-out across replicas, e.g. `redis://127.0.0.1:6379/0` "
    "(empty: in-process fan-out, one replica).",
    "poll_interval_seconds": "How often a running execution is polled while someone watches it.",
    "poll_lease_seconds": "With Redis, one replica polls a watched execution, holding a lease "
    "this long (renewed every third of it; 0: three poll intervals). When that replica dies "
    "without releasing it, another watching replica takes over within the lease plus a quarter "
    "of it.",
    "shutdown_grace_seconds": "On SIGTERM the gateway stops accepting connections, closes "
    "subscriptions with code 1012 (clients reconnect to another replica), frees its leases and "
    "gives in-flight requests this long to finish before cancelling them.",
    "events_secret": "Shared secret of the Step Functions status-change event endpoint "
    "(empty: endpoint off).",
    "max_step_fetches": "Concurrent run-detail fetches from AWS (DescribeExecution, "
    "GetExecutionHistory) per process.",
    "registry_cache_seconds": "How long the account-wide indexes (SageMaker endpoints and "
    "model cards, catalog entities claiming models, datasets and pipelines), pipeline "
    "definitions (DescribeStateMachine, DescribePipeline) and SageMaker card histories are "
    "reused before re-reading.",
    "live_cache_seconds": "How long an AWS answer that may still change (a running "
    "execution's status and steps, a run list page) is shared by the requests asking for it: "
    "at most one call per run or page in that time, however many requests (0: one call per "
    "request; concurrent requests still share one). Live updates always ask AWS.",
    "breaker_failures": "Consecutive upstream failures (unreachable, 5xx, timeout, throttled) "
    "after which a source's circuit opens and its calls fail fast (0: no circuit breakers).",
    "breaker_cooldown_seconds": "How long an open circuit fails calls before one probe call "
    "is let through.",
    "max_staleness_seconds": "Oldest catalog entities, catalog claims and SageMaker indexes "
    "served (marked in `extensions.stale`) when re-reading them fails, and how long a catalog "
    "folder's file that no longer parses answers with its last good version (0: never stale).",
    "demo": "Start a local moto server, write the demo catalog and seed demo data.",
    "demo_token": "The demo's write-scoped service token (empty: a new one each start, "
    "printed in the log).",
    "demo_step_seconds": "Seconds between the steps of the demo's live run (its training "
    "takes 4 times as long).",
}


def _coerce(name: str, raw: object, kind: Any) -> object:
    text = raw if isinstance(raw, str) else None
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            assert text is not None
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(text)
        if kind is int:
            return int(raw)  # type: ignore[call-overload]
        if kind is float:
            return float(raw)  # type: ignore[arg-type]
        if kind is Path:
            return Path(str(raw))
        if name == "service_token_budgets":
            entries = raw if isinstance(raw, list) else str(raw).split(",")
            return tuple(TokenBudget.parse(e) for e in entries if str(e).strip())
        if name == "service_tokens":
            entries = raw if isinstance(raw, list) else str(raw).split(",")
            return tuple(ServiceToken.parse(e) for e in entries if str(e).strip())
        if name in ("jwt_algorithms", "trusted_documents_allow", *_ANNOTATION_SETTINGS):
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return tuple(str(i).strip() for i in items if str(i).strip())
        return str(raw)
    except (TypeError, ValueError, AssertionError) as exc:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: cannot use {raw!r}") from exc


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings from defaults, a TOML file, ``MLMETA_*`` and overrides."""
    env = os.environ if environ is None else environ
    hints = get_type_hints(Settings)
    values: dict[str, object] = {}
    path = config_file or (Path(env["MLMETA_CONFIG"]) if env.get("MLMETA_CONFIG") else None)
    if path is not None:
        try:
            loaded = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from exc
        table = loaded.get("mlmeta", loaded)
        for key, raw in table.items():
            if key not in hints:
                raise ConfigError(f"config file {path}: unknown setting {key!r}")
            values[key] = _coerce(key, raw, hints[key])
    for f in dataclasses.fields(Settings):
        raw_env = env.get(ENV_PREFIX + f.name.upper())
        if raw_env is not None:
            values[f.name] = _coerce(f.name, raw_env, hints[f.name])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]


__all__ = ["ConfigError", "ServiceToken", "Settings", "TokenBudget", "load_settings"]
