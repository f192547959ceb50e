"""GraphiQL, served by the gateway itself: the page and every file it loads, no CDN.

``graphiql(settings)`` builds both once per app: the page (``page.py``) that
``GatewayGraphQL`` returns to browsers on ``GET /graphql``, and the route
serving its scripts and stylesheets (``assets.py``), vendored from npm by
``build/vendor.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.routing import Route

from gateway.config import Settings
from gateway.graphiql.assets import STATIC_PREFIX, asset_endpoint, load_assets
from gateway.graphiql.page import GraphiQLPage
from gateway.graphiql.tabs import default_tabs
from gateway.trusted_documents import GRAPHIQL_HEADER

__all__ = ["GraphiQL", "GraphiQLPage", "graphiql"]


@dataclass(frozen=True)
class GraphiQL:
    page: GraphiQLPage
    route: Route


def graphiql(settings: Settings) -> GraphiQL:
    assets = load_assets()
    page = GraphiQLPage.build(
        assets,
        default_tabs(settings.aws_region),
        # GraphiQL names itself, for MLMETA_TRUSTED_DOCUMENTS_ALLOW=graphiql.
        headers={GRAPHIQL_HEADER: "graphiql"},
    )
    route = Route(f"/{STATIC_PREFIX}/{{name}}", asset_endpoint(assets), methods=["GET", "HEAD"])
    return GraphiQL(page, route)
