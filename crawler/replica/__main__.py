"""``python -m crawler.replica``: serve the four replica sites (and, with ``--patterns``, the
pattern sites of ``crawler.replica.patterns``) until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import threading

from crawler.replica.server import ReplicaSites
from crawler.replica.sites import SITES


def main(argv: list[str] | None = None) -> int:
    """Start the sites, print one ``name URL`` line per site, block until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m crawler.replica", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--base-port",
        type=int,
        default=0,
        help=f"serve {', '.join(SITES)} (then the pattern sites) on this port and the next ones "
             "(default: ephemeral ports)",
    )
    parser.add_argument("--patterns", nargs="*", metavar="NAME", default=None,
                        help="also serve these pattern sites (all of them when no name is given)")
    args = parser.parse_args(argv)
    patterns: list[str] = []
    if args.patterns is not None:
        from crawler.replica.patterns import PATTERNS
        patterns = args.patterns or list(PATTERNS)
    names = [*SITES, *patterns]
    ports = {site: args.base_port + i for i, site in enumerate(names)} if args.base_port else None
    with ReplicaSites(args.host, ports, patterns=patterns) as sites:
        for site in sites.names:
            print(f"{site:7} {sites.urls[site]}", flush=True)
        print("serving; press Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
