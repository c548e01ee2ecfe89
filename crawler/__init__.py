"""Policy Radar core: config, sources, items, cleaning, extraction, dedupe, signals, digest, CLI.

Data flow: page (spiders) → PageItem → Article (extraction) → dedupe → storage → events (signals) → digest.
"""

__version__ = "0.1.0"
