"""The embedded demo: a local moto server, seeded AWS data and a catalog folder.

``mlmeta serve --demo`` uses it; it needs the ``demo`` extra (``moto[server]``).
"""

from gateway.demo.aws_seed import DemoSummary, seed_aws
from gateway.demo.catalog_files import write_catalog
from gateway.demo.moto_server import MotoHandle, start_moto

__all__ = ["DemoSummary", "MotoHandle", "seed_aws", "start_moto", "write_catalog"]
