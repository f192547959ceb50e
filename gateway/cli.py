"""The ``mlmeta`` command: serve, migrate, export-schema, seed-demo, version."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import socket
import sys
import tempfile
import time
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gateway import __version__, documents_cli, lineage_cli
from gateway.config import ConfigError, Settings, load_settings
from gateway.observability.logs import configure_logging

if TYPE_CHECKING:
    from gateway.demo import DemoSummary, MotoHandle
    from gateway.resources import Resources

log = logging.getLogger("mlmeta")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlmeta",
        description="GraphQL gateway for ML metadata. Settings come from MLMETA_* "
        "variables and an optional TOML file (--config or MLMETA_CONFIG); see README.md.",
    )
    parser.add_argument("--config", type=Path, help="TOML config file ([mlmeta] table)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gateway (uvicorn)")
    serve.add_argument("--host", help="bind address (MLMETA_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (MLMETA_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (MLMETA_WORKERS, default 1)")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="embedded demo: local moto server for AWS, demo catalog folder and data, "
        "SQLite, anonymous access",
    )
    serve.add_argument(
        "--no-browser", action="store_true", help="do not open GraphiQL in a browser"
    )

    commands.add_parser("migrate", help="apply metadata DB migrations (Alembic) up to head")

    export = commands.add_parser("export-schema", help="print the GraphQL SDL")
    export.add_argument("--output", "-o", type=Path, help="write to this file instead")
    export.add_argument(
        "--subgraph",
        action="store_true",
        help="the Apollo Federation subgraph SDL (with @link and @key), for rover",
    )

    commands.add_parser(
        "seed-demo",
        help="write the demo catalog folder and seed the demo AWS data into the configured "
        "AWS endpoint (a moto server)",
    )

    lineage_cli.add_parser(commands)
    documents_cli.add_parser(commands)

    commands.add_parser("version", help="print the version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(config_file=args.config)
    except ConfigError as exc:
        print(f"mlmeta: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    handler = {
        "serve": _serve,
        "migrate": _migrate,
        "export-schema": _export_schema,
        "seed-demo": _seed_demo,
        "lineage": lineage_cli.run,
        "documents": documents_cli.run,
        "version": _version,
    }[args.command]
    try:
        return handler(args, settings)
    except ConfigError as exc:
        print(f"mlmeta: configuration error: {exc}", file=sys.stderr)
        return 2


def _version(args: argparse.Namespace, settings: Settings) -> int:
    print(f"mlmeta {__version__}")
    return 0


def _export_schema(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.federation import FederatedSchema
    from gateway.schema import build_schema

    schema = build_schema(settings)
    sdl = str(schema) + "\n"
    if args.subgraph:
        if not isinstance(schema, FederatedSchema):
            print("mlmeta: --subgraph needs MLMETA_FEDERATION=true", file=sys.stderr)
            return 2
        sdl = schema.subgraph_sdl() + "\n"
    if args.output:
        args.output.write_text(sdl)
    else:
        sys.stdout.write(sdl)
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from sources.metadb import current_revision, upgrade

    if settings.is_sqlite:
        Path(settings.database_url.split("///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(upgrade(settings.database_url))
    print(f"metadb at revision {asyncio.run(current_revision(settings.database_url))}")
    return 0


def _seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.demo import seed_aws, write_catalog

    host = urlsplit(settings.aws_endpoint_url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        # Against real AWS the seed would create roles and buckets and start jobs.
        print(
            "mlmeta: seed-demo only seeds a local AWS fake; set MLMETA_AWS_ENDPOINT_URL to a "
            "moto server on this machine (e.g. http://127.0.0.1:5000)",
            file=sys.stderr,
        )
        return 2
    count = write_catalog(Path(settings.catalog_folder), region=settings.aws_region)
    summary = asyncio.run(seed_aws(settings.aws_endpoint_url, settings.aws_region))
    print(f"catalog: {count} entities in {settings.catalog_folder}")
    print(f"aws: {summary}")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    overrides = {"host": args.host, "port": args.port, "workers": args.workers}
    for key, value in overrides.items():
        if value is not None:
            os.environ[f"MLMETA_{key.upper()}"] = str(value)
    settings = load_settings(config_file=args.config)
    busy = _port_in_use(settings.host, settings.port)
    if busy is not None:
        # Before the demo starts: a second `./run` must not reseed the first one's data.
        print(f"mlmeta: port {settings.port} is in use ({busy})", file=sys.stderr)
        return 1
    moto: MotoHandle | None = None
    if args.demo or settings.demo:
        moto = _start_demo(settings)
        settings = load_settings(config_file=args.config)
    if settings.workers > 1:
        _share_metrics_between_workers()
    url = f"http://{settings.host}:{settings.port}/graphql"
    log.info("GraphiQL: %s", url)
    if (args.demo or settings.demo) and not args.no_browser and _has_display():
        webbrowser.open(url)
    # JSON lines: uvicorn's loggers then go through the root logger's JSON handler,
    # in the supervising process as in each worker (gateway.observability.logs).
    own_logs: dict[str, Any] = {"log_config": None} if settings.log_format == "json" else {}
    try:
        uvicorn.run(
            "gateway.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            # SIGTERM: stop listening, close websockets with 1012, let requests finish.
            timeout_graceful_shutdown=settings.shutdown_grace_seconds or None,
            **own_logs,
        )
    finally:
        if moto is not None:
            moto.stop()
    return 0


def _share_metrics_between_workers() -> None:
    """Workers write their metrics to files in PROMETHEUS_MULTIPROC_DIR (a new temporary
    folder unless set); a scrape answered by any worker adds them up. A given folder is
    emptied first: samples of a previous run would be added to this one's."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="mlmeta-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob("*.db"):
        leftover.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    log.info("the workers' metrics are added up through %s", folder)


def _port_in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, or None when it can (bound as uvicorn does)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        return str(exc)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _start_demo(settings: Settings) -> MotoHandle:
    """Start the local AWS fake, write the catalog, seed, and point the gateway at them.

    Every start is the same demo: the previous start's files are removed first,
    and the history is dated on the demo's fixed timeline (``gateway/demo/timeline``).
    """
    from gateway.demo import seed_aws, start_moto, write_catalog
    from gateway.demo.backdate import backdate
    from gateway.demo.fresh import clear_previous_demo
    from gateway.demo.live import Heartbeat, keep_one_run_live

    started = time.monotonic()
    removed = clear_previous_demo(settings)
    if removed:
        log.info("demo: removed the previous start's %d files, seeding afresh", len(removed))
    token = settings.demo_token or secrets.token_urlsafe(24)
    moto = start_moto()
    os.environ["MLMETA_AWS_ENDPOINT_URL"] = moto.endpoint_url
    os.environ["MLMETA_ALLOW_ANONYMOUS"] = "true"
    os.environ["MLMETA_DEMO"] = "true"
    os.environ["MLMETA_DEMO_TOKEN"] = token
    configured = os.environ.get("MLMETA_SERVICE_TOKENS", "").strip(", ")
    demo_entry = f"demo:token:{token}:write"
    os.environ["MLMETA_SERVICE_TOKENS"] = ",".join(filter(None, [configured, demo_entry]))
    count = write_catalog(Path(settings.catalog_folder), region=settings.aws_region)
    summary = asyncio.run(seed_aws(moto.endpoint_url, settings.aws_region))
    moved = backdate(settings.aws_region)
    log.info("demo: %d catalog entities in %s", count, settings.catalog_folder)
    log.info("demo: AWS (moto) at %s: %s; %d objects dated", moto.endpoint_url, summary, moved)
    points = asyncio.run(
        _seed_metadb(settings.replace(aws_endpoint_url=moto.endpoint_url), summary)
    )
    log.info("demo: %d metric points logged for the demo runs", points)
    # The heartbeat posts metrics to this process's own server.
    wildcard = settings.host in ("0.0.0.0", "::", "")  # noqa: S104 - compared, not bound
    host = "127.0.0.1" if wildcard else settings.host
    beat = Heartbeat(
        moto.endpoint_url,
        settings.aws_region,
        f"http://{host}:{settings.port}",
        token,
        settings.demo_step_seconds,
    )
    keep_one_run_live(beat)
    log.info("demo: seeded in %.1f s; a staging run is always live", time.monotonic() - started)
    return moto


async def _seed_metadb(settings: Settings, summary: DemoSummary) -> int:
    """What no upstream keeps: the demo runs' metric curves, mlmeta's own model cards and
    the lineage that Airflow (OpenLineage) and people report.

    Runs a gateway app (its lifespan, not a server) with a write-scoped service token
    made for this seeding only, so the lineage events go through the real endpoint.
    Returns the number of metric points logged.
    """
    from gateway.app import create_app
    from gateway.demo.cards_seed import seed_cards
    from gateway.demo.lineage_seed import seed_lineage, with_seed_token
    from gateway.demo.metrics_seed import seed_metrics
    from sources.metadb.cards import CardStore

    seeding, token = with_seed_token(settings)
    app = create_app(seeding, announce=False)
    async with app.router.lifespan_context(app):
        resources: Resources = app.state.resources
        points = await seed_metrics(summary, resources.pipelines, resources.metrics)
        revisions = await seed_cards(summary, CardStore(resources.metadb))
        lineage = await seed_lineage(app, summary, token)
    log.info("demo: %d mlmeta model card revisions saved", revisions)
    log.info("demo: lineage: %s", lineage)
    return points


def _has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
