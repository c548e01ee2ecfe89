"""Process plumbing shared by the ``radar`` command and the daemon's crawl launcher: what a
crawl process does to itself before it crawls (load Scrapy's TLS stack cheaply, limit its
memory, stop when its parent dies) and what it can read about itself from ``/proc``."""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

from crawler.errors import RadarError


def load_scrapy_tls() -> None:
    """Import Scrapy's TLS modules (a crawl's first Scrapy import, or the launcher's).

    They define deprecated aliases whose shim calls ``inspect.stack()`` only to name the module
    that defines each alias. Imported first, rather than three imports deep, they cost 6 % fewer
    instructions of a crawl that finds nothing new, which is mostly start-up (bench/crawl.py's
    re-crawl; callgrind); see :func:`stack_without_source` for the rest.
    """
    with stack_without_source():
        import scrapy.core.downloader.contextfactory  # noqa: F401  (it imports scrapy.core.downloader.tls)


@contextlib.contextmanager
def stack_without_source() -> Iterator[None]:
    """Within the block, ``inspect.stack()`` returns frames without their source lines, and
    ``inspect.getmodule()`` finds a frame's module by the frame's own module name.

    For each frame on the stack the default (one line of context) finds the source file and
    reads it, and ``getmodule`` scans every loaded module to map files to modules: 8 % of the
    instructions of a crawl that finds nothing new (callgrind), spent by Scrapy's deprecation
    shim, which only names the module its caller's frame runs in. Only this process's own
    start-up runs in the block (no other thread exists yet), and the real functions are back
    when it ends.
    """
    real_stack, real_getmodule = inspect.stack, inspect.getmodule

    def frame_module(obj: object, _filename: str | None = None) -> types.ModuleType | None:
        if inspect.isframe(obj):
            return sys.modules.get(obj.f_globals.get("__name__", ""))
        return real_getmodule(obj, _filename)

    def stack(context: int = 1) -> list[inspect.FrameInfo]:
        return real_stack(0)[1:]  # less this function's own frame, as the real one is not there

    inspect.stack = stack
    # typeshed names getmodule's first parameter "object", which would shadow the builtin here
    inspect.getmodule = frame_module  # type: ignore[assignment]
    try:
        yield
    finally:
        inspect.stack, inspect.getmodule = real_stack, real_getmodule


def limit_memory(memory_mb: int) -> None:
    """Cap this process's address space at ``memory_mb`` MiB (inherited by the extraction workers),
    with every thread allocating from one malloc arena.

    glibc gives each thread that allocates an arena of its own and reserves 64 MiB of address
    space for it: under an address-space limit the reservations count as if used (130 of a
    crawl's 430 MB here), and once the limit is near, each small allocation first tries, and
    fails, to reserve another arena: the crawl then runs on at full CPU and a fraction of its speed
    instead of failing with a MemoryError (seen at 60 MiB: up to a fifth of the crawls, depending
    on where the limit was reached). Only the reactor thread allocates much, so one arena costs
    nothing measurable (four interleaved crawls of bench/crawl.py's site each way: medians of
    388 and 384 pages/s, with and without).
    """
    import ctypes
    import resource

    used = address_space_mb()
    if used is not None and used >= memory_mb:
        # every new mapping would fail from here, somewhere in the crawl and under whatever name
        # (SQLite calls a shared-memory mapping it cannot make a disk I/O error): say so now
        raise RadarError(f"Cannot allocate memory: this crawl's limit of {memory_mb} MiB is below the "
                         f"{used} MiB of address space it already has; raise crawl_memory_mb")
    # the soft limit only: a crawl that renders pages lifts it for the browser it starts, whose
    # engine reserves far more address space than it uses (spiders.browser)
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024, resource.getrlimit(resource.RLIMIT_AS)[1]))
    with contextlib.suppress(OSError, AttributeError):  # not glibc: no such setting, no such arenas
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 1)


_M_ARENA_MAX = -8  # glibc's malloc.h


def proc_status(field: str) -> int | None:
    """The number in this process's ``/proc/self/status`` line ``field`` (``VmSize`` in KiB,
    ``Threads``), or None where /proc cannot tell."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith(f"{field}:")), None)


def address_space_mb() -> int | None:
    """This process's address space in MiB (VmSize), or None where /proc cannot tell."""
    kib = proc_status("VmSize")
    return None if kib is None else kib // 1024


def os_threads() -> int:
    """Threads of this process as the kernel counts them (1 where /proc cannot tell)."""
    return proc_status("Threads") or 1


def stop_when_orphaned() -> None:
    """A daemon's crawl child: when the daemon dies (SIGKILL, OOM killer), SIGTERM ourselves so the
    crawl closes cleanly instead of running on unsupervised, past its time limit."""
    import signal
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60)
        os._exit(3)  # still alive a minute later: the graceful stop hung

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
