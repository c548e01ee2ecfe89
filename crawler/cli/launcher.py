"""The crawl launcher's own process: it loads what a crawl loads, once, then forks a ``radar``
child per request from the daemon (:mod:`scheduler.launcher` is the daemon's side, and says
why and how). The daemon starts it as a program (``python -c``), as it starts a cold crawl
(``python -m crawler.cli``): the daemon runs the command line, it never imports it.
"""

from __future__ import annotations

import codecs
import contextlib
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import NoReturn

from crawler.cli import main
from crawler.processes import load_scrapy_tls, os_threads
from scheduler.launcher import MAX_REQUEST, LauncherError


def preload() -> None:
    """Import what a crawl imports: the command line, Scrapy with its TLS stack and the
    components the crawl's settings name, the spiders, the storage layer and its dialects, and
    what preparing articles loads."""
    load_scrapy_tls()  # first, as ``radar crawl`` does it, for the same reason
    from scrapy.settings import Settings
    from scrapy.utils.misc import load_object

    import spiders.runner  # noqa: F401  (Scrapy's crawler, the spiders, ingest, storage, SQLAlchemy)

    settings = Settings()
    settings.setmodule("spiders.settings", priority="project")
    for name in ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "EXTENSIONS", "ITEM_PIPELINES"):
        for path, order in settings.getwithbase(name).items():
            if order is not None:
                _try(load_object, path)
    for path in settings.getwithbase("DOWNLOAD_HANDLERS").values():
        if path:
            _try(load_object, path)
    for name in ("SCHEDULER", "DUPEFILTER_CLASS", "STATS_CLASS", "LOG_FORMATTER", "SCHEDULER_PRIORITY_QUEUE",
                 "SCHEDULER_MEMORY_QUEUE", "SCHEDULER_DISK_QUEUE", "REQUEST_FINGERPRINTER_CLASS",
                 "DOWNLOADER", "SPIDER_LOADER_CLASS", "TWISTED_DNS_RESOLVER", "ROBOTSTXT_PARSER"):
        path = settings.get(name)
        if isinstance(path, str):
            _try(load_object, path)
    for module in ("sqlalchemy.dialects.sqlite.pysqlite", "sqlalchemy.dialects.postgresql.psycopg",
                   "sqlalchemy.dialects.postgresql.psycopg2", "twisted.internet.asyncioreactor"):
        _try(importlib.import_module, module)
    for encoding in ("cp1252", "utf-8-sig", "gb18030", "gbk", "gb2312", "big5"):  # what pages are decoded as
        _try(codecs.lookup, encoding)
    # What preparing an article loads: the extractor, the packaged detection rules (compiled;
    # a user's rule files are read by the child, cached per file and modification time) and the
    # place-name index. Most polls find a few new articles, which the crawl prepares itself
    # (spiders.pipelines: fewer than INLINE_FIRST) after loading all this: most of a second.
    import crawler.ingest.warm  # noqa: F401


def _try(load: Callable[[str], object], name: str) -> None:
    # an optional part (a dialect's driver) that is not installed: a crawl that needs it says so
    with contextlib.suppress(Exception):
        load(name)


def serve(control_fd: int) -> None:
    """The launcher's main loop, on the control socket ``control_fd``: preload, say ready, then
    fork a child per request and report its pid and exit code, until the daemon goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the daemon stops it, not the terminal's Ctrl-C
    control = socket.socket(fileno=control_fd)
    # numpy's BLAS would start its thread pool at import, and threads do not survive a fork: the
    # children's fingerprints are small, one thread is what they use anyway (crawler.dedupe.neardup)
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    preload()
    if "twisted.internet.reactor" in sys.modules or threading.active_count() != 1 or os_threads() != 1:
        # a reactor installed here, or a thread (Python's, or a library's own: a BLAS thread
        # pool), would be inherited half-alive by every child
        raise LauncherError("preloading installed a reactor or started a thread; cannot fork crawls")
    gc.collect()
    gc.freeze()  # what is loaded lives on in every child: the collector's scans would copy its pages
    control.sendall(b"ready")
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, None)
    running: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, reply socket)
    while True:
        for key, _mask in selector.select():
            if key.data is None:
                try:
                    message, fds, _flags, _addr = socket.recv_fds(control, MAX_REQUEST, 2)
                except OSError:
                    message, fds = b"", []
                if not message:  # the daemon closed its end, or died: children stop on their own
                    return
                _start(message, fds, control, selector, running)
            else:
                pid, reply = key.data
                selector.unregister(key.fd)
                os.close(key.fd)
                del running[key.fd]
                _, status = os.waitpid(pid, 0)
                with contextlib.suppress(OSError):  # the daemon stopped waiting for it
                    reply.sendall(b"%d\n" % os.waitstatus_to_exitcode(status))
                reply.close()


def _start(message: bytes, fds: list[int], control: socket.socket, selector: selectors.BaseSelector,
           running: dict[int, tuple[int, socket.socket]]) -> None:
    if len(fds) != 2:
        for fd in fds:
            os.close(fd)
        return
    reply, out = socket.socket(fileno=fds[0]), fds[1]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(out)
        with contextlib.suppress(OSError):
            reply.sendall(b"error %s\n" % str(exc).encode())
        reply.close()
        return
    if pid == 0:
        # the child: nothing of the launcher's but its loaded modules goes on
        control.close()
        selector.close()
        for _pid, other in running.values():
            other.close()
        for fd in running:
            os.close(fd)
        reply.close()
        _run_child(json.loads(message), out)  # never returns
    os.close(out)
    # its own process group, made here as well as in the child (whichever runs first), so that
    # the daemon can signal the group as soon as it has the pid (as after Popen's
    # start_new_session; the launcher's own new session already has no terminal)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    pidfd = os.pidfd_open(pid)
    running[pidfd] = (pid, reply)
    selector.register(pidfd, selectors.EVENT_READ, (pid, reply))
    with contextlib.suppress(OSError):
        reply.sendall(b"%d\n" % pid)


def _run_child(request: dict[str, object], out: int) -> NoReturn:
    """In a forked child: become ``radar <args>`` in a process group of its own.

    It ends as a new process would: the command's ``SystemExit`` (or an exception, printed)
    unwinds to the interpreter's own exit, which runs the atexit handlers, joins non-daemon
    threads and flushes the output; nothing on the way catches it.
    """
    os.setpgid(0, 0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(out, 1)
    os.dup2(out, 2)
    if out > 2:
        os.close(out)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if request["cwd"] is not None:  # None: the daemon's directory is gone; stay where it was
        os.chdir(str(request["cwd"]))
    env = request["env"]
    args = request["args"]
    assert isinstance(env, dict) and isinstance(args, list)
    os.environ.clear()
    os.environ.update(env)
    time.tzset()
    sys.argv = ["radar", *args]
    main(args=args, prog_name="radar")  # click exits with the command's code
    raise SystemExit(0)

