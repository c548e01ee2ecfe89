"""The bundled ``demo.yaml``: Policy Radar sources (and crawl settings) for the four replica sites."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from crawler.config.settings import DEFAULTS, Settings
from crawler.config.sources import Config, parse_config
from crawler.replica.sites import SITES

DEMO_CONFIG = "demo.yaml"
"""File name of the demo source config inside the ``crawler.replica`` package."""

DEMO_FILE = "radar-demo.yaml"
"""File name :func:`demo_config` writes."""

_NOT_WRITTEN = {"smtp_password", "smtp_user"}  # credentials come from the environment only


def demo_config_text(urls: Mapping[str, str]) -> str:
    """``demo.yaml`` with ``{gov}``, ``{news}``, ``{park}`` and ``{epaper}`` replaced by ``urls``.

    ``urls`` is :attr:`ReplicaSites.urls` (trailing slashes are dropped). Only those four
    placeholders are touched; the regexes' own braces (``\\d{6}``) are left alone.
    """
    missing = [site for site in SITES if site not in urls]
    if missing:
        raise KeyError(f"no URL for replica site(s) {', '.join(missing)}")
    text = (resources.files("crawler.replica") / DEMO_CONFIG).read_text(encoding="utf-8")
    for site in SITES:
        text = text.replace("{" + site + "}", urls[site].rstrip("/"))
    return text


def _settings_map(settings: Settings, demo_scrapy: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in DEFAULTS:
        if name in _NOT_WRITTEN:
            continue
        value = getattr(settings, name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = ",".join(value)
        out[name] = value
    # the demo lifts the politeness delays for its loopback sites; the user's own Scrapy settings win
    out["scrapy"] = {**demo_scrapy, **settings.scrapy_settings}
    return out


def demo_config(
    urls: Mapping[str, str], settings: Settings, directory: str | Path | None = None
) -> tuple[Config, Path]:
    """Write a runnable config for the replica sites at ``urls`` and return it, loaded, with its path.

    The file (``radar-demo.yaml`` in ``directory``, default ``settings.data_dir``) holds the demo
    sources and a ``settings:`` map carrying ``settings`` (database, data dir, mail, timezone …;
    never credentials) plus the demo's Scrapy overrides, so ``radar --config FILE crawl`` or
    ``daemon`` run against the same database as the caller.
    """
    data = yaml.safe_load(demo_config_text(urls))
    demo_settings = data.get("settings") or {}
    data["settings"] = _settings_map(settings, demo_settings.get("scrapy") or {})
    folder = Path(directory) if directory is not None else settings.data_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DEMO_FILE
    text = yaml.safe_dump(
        {"settings": data["settings"], "sources": data["sources"]}, allow_unicode=True, sort_keys=False
    )
    path.write_text(text, encoding="utf-8")
    return parse_config(yaml.safe_load(text), path=path), path
