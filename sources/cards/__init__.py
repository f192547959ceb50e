"""Model cards: storage codec, SageMaker and Model Card Toolkit mappings, Markdown, checks.

Pure functions over ``sources.models.model.CardContent``; no I/O here. The
metadb store of card revisions is ``sources.metadb.cards.CardStore``.
"""

from __future__ import annotations
