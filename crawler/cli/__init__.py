"""The ``radar`` command: :data:`main` is the group (``crawler.cli:main``, ``python -m crawler.cli``),
one module per group of commands. Nothing imports this package: it sits on top of every layer."""

from crawler.cli import crawling, daemon, demo, digest, sql, tools
from crawler.cli.app import main

for _command in (crawling.crawl, demo.demo, daemon.daemon, daemon.status, digest.digest, sql.sql, tools.extract,
                 tools.signals):
    main.add_command(_command)

__all__ = ["main"]

from crawler.cli import search as _search  # noqa: E402  (issue 22)

main.add_command(_search.search)

from crawler.cli import worker as _worker  # noqa: E402  (issue 25)

main.add_command(_worker.worker)

from crawler.cli import browse as _browse  # noqa: E402  (issue 22)

main.add_command(_browse.browse)

main.add_command(digest.feed)  # issue 24

from crawler.cli import sources as _sources  # noqa: E402  (issue 23)

main.add_command(_sources.source)
