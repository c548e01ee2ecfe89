"""Imported by the prepare workers' fork server (``crawler.ingest.pool``), and by nothing else: importing
it loads the extractor, the detection rules and the place-name index, once, so that every worker
forked afterwards has them already (copy-on-write) instead of loading them itself.

It lives outside ``spiders``: Scrapy imports every module of its ``SPIDER_MODULES`` when a crawl
starts, and would run this warm-up in the crawl process too.
"""

import contextlib

from crawler.ingest.prepare import warm_up

# A failure here is not lost: each worker warms up again as it starts, and reports it there.
with contextlib.suppress(Exception):
    warm_up()
