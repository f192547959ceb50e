"""The GraphiQL page at ``GET /graphql`` (Accept: text/html), built from ``page.html``.

Everything it loads comes from the gateway (``gateway/graphiql/assets.py``): the
page works where the internet is blocked, and a Content-Security-Policy of
``'self'`` holds it to that. Its settings travel as a JSON block that
``mlmeta-graphiql.js`` reads: the default tabs, the header every request carries
(``x-mlmeta-client: graphiql``, which trusted-documents mode looks for) and the
header editor's starting text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.responses import HTMLResponse

from gateway.graphiql.assets import Asset
from gateway.graphiql.tabs import HEADERS_EDITOR, Tab

TEMPLATE = Path(__file__).resolve().parent / "page.html"
_PLACEHOLDER = re.compile(r"\{\{ ([\w.-]+) \}\}")

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # GraphiQL's editors and dialogs set styles at run time.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",  # 'self' covers ws:// and wss:// to the same host
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)


def _json_for_script(value: object) -> str:
    """JSON that cannot end its ``<script>`` element early."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass(frozen=True)
class GraphiQLPage:
    html: str

    @classmethod
    def build(
        cls, assets: dict[str, Asset], tabs: list[Tab], headers: dict[str, str]
    ) -> GraphiQLPage:
        config = {
            "headers": headers,
            "headersEditor": HEADERS_EDITOR,
            "tabs": [tab.as_graphiql() for tab in tabs],
        }

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "config":
                return _json_for_script(config)
            return assets[name].url  # a KeyError names a file the page lacks

        return cls(_PLACEHOLDER.sub(fill, TEMPLATE.read_text()))

    def response(self) -> HTMLResponse:
        return HTMLResponse(
            self.html,
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
            },
        )
