"""What the gateway says when it starts: each source's readiness, then one honest summary.

A server whose sources do not answer still serves (fields of a failing source
are null with an error, the rest stands), but it must not claim to be ready:
the first lines of its log say which sources fail and why, the same check
``/readyz`` makes (and its answer is cached for the first probe).
"""

from __future__ import annotations

import logging

from gateway.config import Settings
from gateway.resources import Resources
from sources.health import SourceHealth

log = logging.getLogger("mlmeta")


async def announce_start(resources: Resources, settings: Settings) -> list[SourceHealth]:
    """Log one line per source and a summary; return the check's results."""
    results = await resources.health.results()
    for result in results:
        if result.healthy:
            log.info("source %s: ok (%.0f ms)", result.name, result.latency_ms or 0.0)
        else:
            log.warning("source %s: NOT READY: %s", result.name, result.last_error)
    failing = [r.name for r in results if not r.healthy]
    if not failing:
        log.info("mlmeta ready: GraphQL at /graphql, all %d sources ready", len(results))
    else:
        log.warning(
            "mlmeta serving GraphQL at /graphql; %d of %d sources not ready: %s "
            "(their fields answer with errors; /readyz is 503 until they are)",
            len(failing),
            len(results),
            ", ".join(failing),
        )
    if settings.demo and settings.demo_token:
        # Next to "ANONYMOUS ACCESS IS ON": reading needs no token, writing needs this one.
        log.warning(
            "DEMO WRITE TOKEN: mutations need the header 'Authorization: Bearer %s' "
            "(service token 'demo', allowed to write)",
            settings.demo_token,
        )
    return results
