"""Datasette plugins that ``radar browse`` loads (``--plugins-dir`` points here)."""
