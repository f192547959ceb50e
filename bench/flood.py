"""One principal floods the gateway; do the others and /healthz still get answers?

One uvicorn process serves the demo data (``bench/servers.py``). For
``--seconds``:

- the *flooder* (service token ``flooder``) runs ``--clients`` concurrent loops,
  each sending the heaviest queries that pass the limits, in turn; this runs in a
  child process, so parsing its large answers does not slow the measuring side;
- the *portal* (service token ``portal``) sends the entity-page query in a loop;
- a probe asks ``/healthz`` every 20 ms.

Reported: the portal's and healthz's latencies (p50/p99/max) with and without
the flood, the flood's outcomes by status and code, and the longest event-loop
stall, read from the server's ``event loop blocked for N ms`` warnings
(``MLMETA_LOOP_STALL_WARN_MS``, set to 20 here). Loopback only; bounded by
``--seconds`` and the request timeouts.

    .venv/bin/python -m bench.flood [--seconds 20] [--clients 8] [--env MLMETA_X=Y ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.portal_query import BODY as PORTAL_BODY
from bench.servers import PYTHON, REPO, Fleet, machine, summary_ms

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "flood.json"
FLOODER_TOKEN = "flooder-token-0123456789abcdef"
PORTAL_TOKEN = "portal-token-0123456789abcdef"
STALL = re.compile(rb"event loop blocked for (\d+) ms")

# Heavy but allowed: CPU-bound (introspection of the whole schema, many plain
# objects) and upstream-bound (every run with its metrics and steps).
FLOOD_QUERIES = {
    "introspection": """{ __schema { types { name kind description
      fields { name description args { name description type { name kind ofType { name kind } } }
        type { name kind ofType { name kind ofType { name kind } } } }
      inputFields { name type { name kind } } enumValues { name description } } } }""",
    "runs": """{ pipelines(first: 5) { edges { node { name
      executions(first: 40) { edges { node { id status startedAt durationSeconds
        metrics { name value } parameters { key value } } } } } } } }""",
    "catalog": """{ entities(first: 100) { edges { node { ref title description tags
      owner { ref title } relations { type targetRef target { ref title } } } } } }""",
}

_FLOODER = """
import asyncio, json, sys, time
from collections import Counter
import httpx
url, token, seconds, clients = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
queries = json.loads(sys.argv[5])
outcomes, times = Counter(), []
async def client_loop(index):
    auth = {"Authorization": "Bearer " + token}
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=auth) as http:
        names = sorted(queries)
        end, i = time.monotonic() + seconds, index
        while time.monotonic() < end:
            name = names[i % len(names)]; i += 1
            started = time.perf_counter()
            response = await http.post("/graphql", json={"query": queries[name]})
            body = response.content
            times.append((time.perf_counter() - started) * 1000)
            code = "ok"
            if b'"code"' in body:
                code = json.loads(body)["errors"][0]["extensions"]["code"]
            outcomes[f"{name} {response.status_code} {code}"] += 1
async def main():
    await asyncio.gather(*(client_loop(i) for i in range(clients)))
asyncio.run(main())
print(json.dumps({"outcomes": outcomes, "times": times}))
"""


async def measure(url: str, seconds: float) -> dict[str, list[float]]:
    """The portal's entity page in a loop and /healthz every 20 ms, for ``seconds``."""
    portal: list[float] = []
    health: list[float] = []
    end = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {PORTAL_TOKEN}"}
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers) as client:

        async def portal_loop() -> None:
            while time.monotonic() < end:
                started = time.perf_counter()
                response = await client.post("/graphql", json=PORTAL_BODY)
                portal.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200 or "errors" in response.json():
                    raise SystemExit(f"portal query failed: {response.text[:300]}")

        async def health_loop() -> None:
            async with httpx.AsyncClient(base_url=url, timeout=60) as probe:
                while time.monotonic() < end:
                    started = time.perf_counter()
                    (await probe.get("/healthz")).raise_for_status()
                    health.append((time.perf_counter() - started) * 1000)
                    await asyncio.sleep(0.02)

        await asyncio.gather(portal_loop(), health_loop())
    return {"portal": portal, "healthz": health}


def probe_queries(url: str) -> dict[str, Any]:
    """Each flood query once, alone: does it pass the limits, how big and slow is it?"""
    report = {}
    headers = {"Authorization": f"Bearer {FLOODER_TOKEN}"}
    with httpx.Client(base_url=url, timeout=60, headers=headers) as client:
        for name, query in FLOOD_QUERIES.items():
            started = time.perf_counter()
            response = client.post("/graphql", json={"query": query})
            elapsed = (time.perf_counter() - started) * 1000
            errors = response.json().get("errors") or []
            report[name] = {
                "status": response.status_code,
                "ms": round(elapsed, 1),
                "bytes": len(response.content),
                "codes": sorted({e.get("extensions", {}).get("code") for e in errors}),
            }
    return report


def stalls(log: Path) -> list[int]:
    return [int(m.group(1)) for m in STALL.finditer(log.read_bytes())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=REPO, help="tree to measure")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8, help="the flooder's concurrent loops")
    parser.add_argument("--env", action="append", default=[], help="MLMETA_X=Y for the server")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    parser.add_argument("--keep-log", type=Path, help="copy the server's log here")
    args = parser.parse_args()
    seconds = min(args.seconds, 120.0)
    extra = dict(item.split("=", 1) for item in args.env)
    env = {
        "MLMETA_SERVICE_TOKENS": f"flooder:token:{FLOODER_TOKEN},portal:token:{PORTAL_TOKEN}",
        "MLMETA_LOOP_STALL_WARN_MS": "20",
        **extra,
    }
    tree = args.tree.resolve()
    with (
        tempfile.TemporaryDirectory(prefix="mlmeta-flood-") as workdir,
        Fleet(Path(workdir)) as fleet,
    ):
        log = Path(workdir) / "server.log"
        fleet.start_moto(tree)
        with log.open("wb") as server_log:
            gateway = fleet.start_gateway("flood", tree, fleet.seed("flood", tree), env, server_log)
            probes = probe_queries(gateway.url)
            asyncio.run(measure(gateway.url, 3))  # warm-up
            quiet = asyncio.run(measure(gateway.url, min(10.0, seconds)))
            quiet_stalls = stalls(log)
            flooder = subprocess.Popen(
                [
                    *(str(PYTHON), "-c", _FLOODER, gateway.url, FLOODER_TOKEN, str(seconds)),
                    *(str(args.clients), json.dumps(FLOOD_QUERIES)),
                ],
                stdout=subprocess.PIPE,
            )
            time.sleep(1)  # let the flood build up first
            flooded = asyncio.run(measure(gateway.url, seconds - 2))
            flood_out = json.loads(flooder.communicate(timeout=seconds + 120)[0])
        flood_stalls = stalls(log)[len(quiet_stalls) :]
        if args.keep_log:
            args.keep_log.write_bytes(log.read_bytes())

    result = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "tree": str(tree),
        "server_env": {k: v for k, v in env.items() if "TOKENS" not in k},
        "flood_clients": args.clients,
        "flood_seconds": seconds,
        "flood_queries_alone": probes,
        "flood_outcomes": dict(Counter(flood_out["outcomes"])),
        "flood_ms": summary_ms(flood_out["times"]) if flood_out["times"] else None,
        "quiet": {name: _row(values) for name, values in quiet.items()},
        "flooded": {name: _row(values) for name, values in flooded.items()},
        "max_loop_stall_ms": {
            "quiet": max(quiet_stalls, default=0),
            "flooded": max(flood_stalls, default=0),
            "stalls_over_100ms": sum(1 for s in flood_stalls if s > 100),
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("quiet", "flooded", "max_loop_stall_ms")}, indent=1))
    print(json.dumps(result["flood_outcomes"], indent=1), f"-> {args.output}")


def _row(values: list[float]) -> dict[str, float]:
    row = summary_ms(values)
    ordered = sorted(values)
    row["p50"] = row.pop("median")
    row["p99"] = round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)
    return row


if __name__ == "__main__":
    main()
