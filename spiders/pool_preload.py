"""Imported by the prepare workers' fork server (``spiders.pool``), and by nothing else: importing
it loads the extractor, the detection rules and the place-name index, once, so that every worker
forked afterwards has them already (copy-on-write) instead of loading them itself."""

import contextlib

from crawler.ingest import warm_up

# A failure here is not lost: each worker warms up again as it starts, and reports it there.
with contextlib.suppress(Exception):
    warm_up()
