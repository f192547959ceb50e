"""Writes the demo's Backstage catalog files into a folder.

The files ship as package data (``gateway/demo/catalog/*.yaml``); their ARNs
name moto's default account and ``us-east-1``, the ones ``seed_aws`` uses.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

DEMO_REGION = "us-east-1"


def catalog_texts(region: str = DEMO_REGION) -> dict[str, str]:
    """File name -> YAML text, with ARNs and console links moved to ``region``."""
    texts: dict[str, str] = {}
    for entry in resources.files("gateway.demo.catalog").iterdir():
        if entry.name.endswith(".yaml"):
            text = entry.read_text(encoding="utf-8")
            if region != DEMO_REGION:
                text = text.replace(f":{DEMO_REGION}:", f":{region}:")
                text = text.replace(f"region={DEMO_REGION}", f"region={region}")
                text = text.replace(f"{DEMO_REGION}.console.", f"{region}.console.")
            texts[entry.name] = text
    return dict(sorted(texts.items()))


def write_catalog(folder: Path, *, region: str = DEMO_REGION) -> int:
    """Copy the demo catalog into ``folder`` (files are overwritten); return its entity count.

    Point the folder catalog at ``folder``, or register ``folder/all.yaml`` as a
    Backstage location.
    """
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, text in catalog_texts(region).items():
        (folder / name).write_text(text, encoding="utf-8")
        count += sum(
            1
            for doc in yaml.safe_load_all(text)
            if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict)
        )
    return count
