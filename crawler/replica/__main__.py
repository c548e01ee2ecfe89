"""``python -m crawler.replica``: serve the four replica sites until Ctrl-C."""

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
        help=f"serve {', '.join(SITES)} on this port and the next ones (default: ephemeral ports)",
    )
    args = parser.parse_args(argv)
    ports = {site: args.base_port + i for i, site in enumerate(SITES)} if args.base_port else None
    with ReplicaSites(args.host, ports) as sites:
        for site in SITES:
            print(f"{site:7} {sites.urls[site]}", flush=True)
        print("serving; press Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
