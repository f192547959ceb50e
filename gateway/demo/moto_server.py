"""A local moto server that answers the AWS APIs of the embedded demo.

moto runs as a real HTTP server in a thread of this process, so the gateway's
aiobotocore clients take exactly the code paths they take against AWS (moto's
in-process ``mock_aws`` does not work with aiobotocore).

Side effects, all on this process's environment:

- ``MOTO_PORT`` is set to the server's port: Step Functions' ``aws-sdk`` task
  integrations, which moto's state machine interpreter runs, call back into
  moto through ``http://localhost:$MOTO_PORT``.
- When neither ``AWS_ACCESS_KEY_ID`` nor ``AWS_PROFILE`` is set, dummy
  credentials are set (``AWS_ACCESS_KEY_ID=testing``,
  ``AWS_SECRET_ACCESS_KEY=testing``, ``AWS_SESSION_TOKEN=testing``) so
  botocore can sign requests; moto accepts any. Credentials already in the
  environment are left alone (requests signed with them go only to the local
  server, whose endpoint every demo client is given).
- moto's process-wide config (it survives ``/moto-api/reset``) is switched to
  really interpret Amazon States Language
  (``{"stepfunctions": {"execute_state_machine": true}}``); without it
  executions stay RUNNING forever with a canned history.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import urllib.request
from dataclasses import dataclass, field
from typing import Any

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}


@dataclass
class MotoHandle:
    """A running moto server; ``stop()`` shuts it down (idempotent).

    ``stop()`` also puts back moto's Step Functions config and ``MOTO_PORT`` as
    they were before ``start_moto``, so tests that share the process see no
    change; dummy credentials stay set.
    """

    host: str
    port: int
    _server: Any = field(repr=False)
    _previous_config: dict[str, Any] = field(default_factory=dict, repr=False)
    _previous_port: str | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            if self._previous_config:
                _request(f"{self.endpoint_url}/moto-api/config", self._previous_config)
        finally:
            if os.environ.get("MOTO_PORT") == str(self.port):
                if self._previous_port is None:
                    os.environ.pop("MOTO_PORT", None)
                else:
                    os.environ["MOTO_PORT"] = self._previous_port
            self._server.stop()


def _has_credentials() -> bool:
    # Only the environment is looked at: asking botocore's provider chain could
    # wait on the EC2 metadata service for seconds on a laptop.
    return bool(os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"))


def _request(url: str, body: dict[str, Any]) -> None:
    """POST ``body`` to a moto-api URL."""
    request = urllib.request.Request(  # noqa: S310 - a local http:// URL we built
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        response.read()


def start_moto(port: int = 0, *, quiet: bool = True) -> MotoHandle:
    """Start moto on ``127.0.0.1`` (a free port when ``port`` is 0) and configure it.

    Needs the ``demo`` extra (``moto[server]``). With ``quiet``, moto's access
    log and its state machine interpreter's logs (which report every Fail
    state as an ERROR, expected ones included) are limited to warnings and
    above and to nothing, respectively.
    """
    from moto.server import ThreadedMotoServer

    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)

    if not _has_credentials():
        for key, value in DUMMY_CREDENTIALS.items():
            os.environ.setdefault(key, value)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    handle = MotoHandle(
        host=host, port=int(bound_port), _server=server, _previous_port=os.environ.get("MOTO_PORT")
    )
    os.environ["MOTO_PORT"] = str(handle.port)
    try:
        # GET /moto-api/config does not report the stepfunctions section; the
        # server runs in this process, so read moto's config object instead.
        from moto.core.config import default_user_config

        previous = copy.deepcopy(default_user_config.get("stepfunctions"))
        handle._previous_config = {"stepfunctions": previous} if previous else {}
        _request(f"{handle.endpoint_url}/moto-api/config", MOTO_CONFIG)
    except Exception:
        handle.stop()
        raise
    return handle
