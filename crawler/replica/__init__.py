"""Offline replicas of the kinds of site Policy Radar watches, built from the seeds' real text.

Used by ``radar demo``, the tests and the benchmarks; serves only on 127.0.0.1.

* :func:`build_sites` — every page as data, ``{site: {path: Resource}}`` (pure, cached);
* :class:`ReplicaSites` — serves the four sites (gov, news, park, epaper) over HTTP;
* :func:`demo_config_text` — the bundled ``demo.yaml`` source config filled with live URLs;
* :func:`demo_config` — that config plus the caller's settings, written to a file and loaded.

Run ``python -m crawler.replica`` to serve them until Ctrl-C.
"""

from crawler.replica.demo import DEMO_CONFIG, demo_config, demo_config_text
from crawler.replica.resource import Resource
from crawler.replica.server import ReplicaSites
from crawler.replica.sites import SITES, build_sites

__all__ = ["DEMO_CONFIG", "SITES", "ReplicaSites", "Resource", "build_sites", "demo_config", "demo_config_text"]
