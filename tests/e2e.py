"""Helpers for end-to-end tests: crawl in a child process (Scrapy's reactor runs once per process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from crawler.config.settings import load_settings
from crawler.replica.demo import demo_config


def write_config(urls: dict[str, str], db_url: str, directory: Path, **settings: Any) -> Path:
    """The demo config for ``urls`` with ``db_url``, written into ``directory``."""
    base = load_settings({"database_url": db_url, "data_dir": str(directory)}, env={})
    _cfg, path = demo_config(urls, base, directory)
    if settings:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["settings"].update(settings)
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def bulk_config(path: Path, base_url: str, db: Path) -> Path:
    """A config at ``path`` crawling the bulk replica site at ``base_url`` into the SQLite file
    ``db``, quickly (no delays, eight requests at a time)."""
    import yaml

    path.write_text(yaml.safe_dump({
        "settings": {"database_url": f"sqlite:///{db}",
                     "scrapy": {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS": 8,
                                "CONCURRENT_REQUESTS_PER_DOMAIN": 8}},
        "sources": [{"name": "bulk", "start_urls": [f"{base_url}/bulk/index.html"],
                     "allow": r"/system/\d{4}/\d{2}/\d{2}/\d+\.shtml$", "next_page": "a.next::attr(href)",
                     "schedule": "every: 1h", "max_pages": 1000}]}), encoding="utf-8")
    return path


def radar(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``radar ARGS`` as a child process and return what it did."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "crawler.cli", *args], env=full_env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def python_child(code: str, *args: str, timeout: float = 120) -> str:
    """Run ``code`` (``python -c``, with ``args``) in a fresh interpreter from the repository root,
    for what only a new process shows (which modules an import loads, what start-up costs);
    returns its stdout, and fails with its stderr unless it exits 0."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout
