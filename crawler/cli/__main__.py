"""``python -m crawler.cli``: the ``radar`` command, as the daemon starts a crawl cold."""

from crawler.cli import main

main()
