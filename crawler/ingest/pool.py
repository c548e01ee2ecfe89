"""Worker processes for the CPU-bound half of a crawl: extraction, hashes, fingerprint, events.

Scrapy runs every pipeline in its one reactor thread, so a page's few milliseconds of parsing
and detection would stall every download meanwhile, and a crawl could never use a second core.
:class:`PreparePool` runs ``crawler.ingest.prepare.prepare`` (pure: page in, prepared article out) in
worker processes instead; the reactor awaits the result and only the database work stays in the
crawl process.

Workers come from a ``forkserver`` (forking the crawl process itself, with its reactor and
threads, is unsafe) that has loaded the extractor, the detection rules and the place-name index
once (``crawler.ingest.warm``), and the database layer for the writer (``crawler.ingest.writer``): each helper
is forked warm, instead of spending a second of CPU loading them again while the crawl needs
that CPU. The workers are started by a helper thread, because starting the first one waits for
that loading: the reactor goes on downloading meanwhile, and pages queue for the workers. A
source's first crawl, which takes in every article its listings show, starts the fork server as
the crawl process starts (:func:`prestart`), so that it loads all this on another CPU while the
crawl process loads Scrapy. Each worker talks to the crawl process over one pipe, read by the
reactor's own event loop: no helper threads in the crawl process while pages flow, whose GIL
hand-overs cost more than the pickling (``concurrent.futures`` pools use two).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import pickle
import signal
import socket
import struct
import sys
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Self, cast

from crawler.config.sources import Source
from crawler.ingest.prepare import Sealed, prepare, use_rules, warm_up
from crawler.items import PageItem

__all__ = ["PreparePool", "SharedHelper", "WorkerDied", "default_workers", "die_with_the_crawl", "helper_context",
           "pickled", "prestart"]

log = logging.getLogger(__name__)
IN_FLIGHT = 2  # batches' worth of pages sent ahead to each worker, so it never waits for the next
# Pages go to the workers (and their results come back) several to a message: a worker woken for
# each page ran it with caches the crawl process had just filled, and the crawl process paid a
# hand-off per page. A page waits at most GATHER seconds for others to share its message.
# bench/crawl.py's site, 6 interleaved pairs: 428 -> 508 pages/s (every pair faster), crawl
# process 2.20 -> 1.91 ms per page, workers 2.32 -> 1.97.
BATCH = 8
GATHER = 0.005
START_TIMEOUT = 60.0  # seconds close() waits for workers still starting (a second, normally)
# Workers run this much nicer than the crawl process. The crawl process (Scrapy's downloads, the
# dispatch to the workers, storing) is the pipeline's narrowest part, and the workers' wake-ups
# took its CPU away whenever all cores were busy: at equal priority it got about nine tenths of a
# CPU. Its pages wait in the workers' queue meanwhile, so nothing is lost by making the workers
# yield. bench/crawl.py's site, 10 interleaved pairs of crawls: 506 -> 540 pages/s mean (9 of 10
# pairs faster) at 5; 5, 10 and 19 within noise of each other.
WORKER_NICENESS = 10


# What the fork server loads before it forks any helper: the workers' extractor, rules and place
# names, and the writer's database layer (SQLAlchemy, the models; 0.35 s of CPU that the writer
# otherwise spent at its start, while the crawl needed that CPU).
PRELOAD = ["crawler.ingest.warm", "crawler.ingest.ingestor"]


def default_workers() -> int:
    """One worker per CPU, at most four: the crawl process itself mostly waits on the network."""
    return max(1, min(4, os.cpu_count() or 1))


class WorkerDied(RuntimeError):
    """A worker process ended while preparing a page (killed, or out of memory)."""


def pickled(message: Any) -> bytes:
    """``message`` pickled for the other end's ``Connection.recv``. Not with ``Connection.send``:
    multiprocessing's pickler makes a copy of copyreg's dispatch table at every call, which the C
    pickler then consults for every object, for reducers (sockets, pipes) that pages and results
    never hold (a batch of pages: 7.2 → 4.6 µs per page)."""
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_the_crawl(crawl: int) -> None:
    """Make this helper process (forked by the helpers' fork server) end when the crawl process
    ``crawl`` dies, even in the middle of a page. Call it first thing in the helper.

    A helper's pipe tells it only once it reads again, which a worker busy with a batch of long
    pages did seconds after its crawl was killed. The fork server exits when the write end of its
    "alive" pipe closes everywhere: in the crawl process, and in each helper, which multiprocessing
    hands a copy (for starting processes of its own, which helpers never do), so each helper
    closes it here. Linux then kills this process as the fork server ends (PR_SET_PDEATHSIG, tied
    to the thread that forked this process: the fork server's only thread). The fork server may
    have gone before the signal was asked for: then the crawl is gone as well, and so is this.
    """
    server = multiprocessing.forkserver._forkserver
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:
        with contextlib.suppress(OSError):
            os.close(alive)
        setattr(server, "_forkserver_alive_fd", None)  # noqa: B010 (not in the type stubs)
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        os.kill(crawl, 0)
    except ProcessLookupError:
        os._exit(1)
    except PermissionError:  # alive, as another user: not ours to judge
        pass
    if os.getppid() != parent:  # orphaned between the two reads: the fork server had gone
        os._exit(1)


def _serve(conn: Connection, crawl: int, rules: tuple[str, ...] = ()) -> None:
    """A worker's loop: lists of ``(task, page, source, detect)`` in, a list of ``(task, ok,
    result or error)`` out for each; results are :class:`~crawler.ingest.prepare.Sealed`. ``crawl`` is
    the crawl process's pid: the worker ends when it does. ``rules``: the user's event-rule files."""
    die_with_the_crawl(crawl)
    use_rules(rules)
    warm_up()  # nothing left to load when the fork server's preload did it
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        answers: list[tuple[int, bool, Any]] = []
        for task, page, source, detect in message:
            try:
                answers.append((task, True, Sealed(prepare(page, source, detect=detect))))
            except Exception as exc:  # handed to the crawl process, which decides what it means
                answers.append((task, False, exc))
        try:
            data = pickled(answers)
        except Exception:  # an exception that does not pickle
            data = pickled([(task, ok, value if ok else RuntimeError(f"{type(value).__name__}: {value}"))
                           for task, ok, value in answers])
        conn.send_bytes(data)


@dataclass
class _Worker:
    process: Any
    conn: Connection
    sock: socket.socket  # the crawl process's end of ``conn``, for sends that never block
    pending: dict[int, asyncio.Future[Sealed]] = field(default_factory=dict)
    alive: bool = True
    unsent: bytearray = field(default_factory=bytearray)  # what the socket would not take yet


class SharedHelper:
    """A helper that the spiders of one crawl process share (``radar crawl`` runs all sources in
    one process): :meth:`acquire` starts it for the first caller, :meth:`release` closes it after
    the last one."""

    _shared: Any = None  # per subclass, once acquired
    _users = 0

    @classmethod
    def acquire(cls, *args: Any) -> Self:
        """The process's shared instance (made with ``args`` by the first caller)."""
        if cls._shared is None:
            cls._shared = cls(*args)
        cls._users += 1
        return cast(Self, cls._shared)

    @classmethod
    def release(cls) -> None:
        """One user less; the last one closes it."""
        cls._users = max(0, cls._users - 1)
        if cls._users == 0 and cls._shared is not None:
            cls._shared.close()
            cls._shared = None

    def close(self) -> None:
        """Stop what it started."""
        raise NotImplementedError


class PreparePool(SharedHelper):
    """``workers`` processes running :func:`crawler.ingest.prepare.prepare`; call :meth:`prepare` from
    coroutines on the reactor's asyncio loop, and :meth:`close` when the crawl ends (or share it:
    :meth:`acquire`, :meth:`release`).
    """

    def __init__(self, workers: int, rules: tuple[str, ...] = ()) -> None:
        self._workers: list[_Worker] = []  # once started and attached to the loop
        self._ready = False  # the start has ended (with or without workers)
        self._closed = False
        self._queue: deque[tuple[int, tuple[PageItem, Source, bool], asyncio.Future[Sealed]]] = deque()
        self._next = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="radar-prepare-start")
        self._spawning: Future[list[_Worker]] = self._starter.submit(_spawn, workers, rules)

    def _attach(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            asyncio.wrap_future(self._spawning, loop=self._loop).add_done_callback(self._started)

    def _started(self, spawning: asyncio.Future[list[_Worker]]) -> None:
        """On the loop, once the workers are up: read their pipes, hand them the queued pages."""
        assert self._loop is not None
        if self._closed:  # closed while they were starting: close() has stopped them
            return
        try:
            self._workers = spawning.result()
        except Exception as exc:
            log.error("prepare workers could not start (%s); the crawl process prepares its pages itself", exc)
        self._ready = True
        for worker in self._workers:
            self._loop.add_reader(worker.conn.fileno(), self._receive, worker)
        if self._workers:
            self._dispatch()
        else:
            self._prepare_queued()

    async def prepare(self, page: PageItem, source: Source, *, detect: bool) -> Sealed:
        """``prepare(page, source, detect=detect)`` in a worker, sealed (the crawl process passes it
        on to be stored unopened); its exceptions are re-raised here."""
        self._attach()
        assert self._loop is not None
        if self._ready and not any(w.alive for w in self._workers):
            return Sealed(prepare(page, source, detect=detect))  # no worker left: carry on without them
        future: asyncio.Future[Sealed] = self._loop.create_future()
        self._next += 1
        self._queue.append((self._next, (page, source, detect), future))
        if len(self._queue) >= BATCH:
            self._dispatch()
        elif self._timer is None:
            self._timer = self._loop.call_later(GATHER, self._dispatch)
        return await future

    def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for worker in self._workers:
            while worker.alive and self._queue and len(worker.pending) < IN_FLIGHT * BATCH:
                message: list[tuple[int, PageItem, Source, bool]] = []
                while self._queue and len(message) < BATCH:
                    task, (page, source, detect), future = self._queue.popleft()
                    worker.pending[task] = future
                    message.append((task, page, source, detect))
                self._send(worker, message)

    def _send(self, worker: _Worker, message: Any) -> None:
        """Send without blocking: what the socket does not take now goes when it can (a worker
        sending a big result waits for this process to read it; this process waiting meanwhile
        to send it more would wait for ever)."""
        data = pickled(message)
        queued = bool(worker.unsent)  # then the loop's writer callback sends it, in order
        worker.unsent += struct.pack("!i", len(data))  # multiprocessing.Connection's framing
        worker.unsent += data
        if not queued:
            self._flush(worker)

    def _flush(self, worker: _Worker) -> None:
        """Send what the socket takes of ``worker.unsent``; the loop calls again for the rest."""
        assert self._loop is not None
        try:
            sent = worker.sock.send(worker.unsent, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._lost(worker)
            return
        del worker.unsent[:sent]
        if worker.unsent:
            self._loop.add_writer(worker.sock.fileno(), self._flush, worker)
        else:
            self._loop.remove_writer(worker.sock.fileno())

    def _receive(self, worker: _Worker) -> None:
        try:
            answers = worker.conn.recv()
        except (EOFError, OSError):
            self._lost(worker)
            return
        for task, ok, value in answers:
            future = worker.pending.pop(task, None)
            if future is not None and not future.done():
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        self._dispatch()

    def _lost(self, worker: _Worker) -> None:
        if not worker.alive:
            return
        worker.alive = False
        if self._loop is not None:
            self._loop.remove_reader(worker.conn.fileno())
            if worker.unsent:
                self._loop.remove_writer(worker.sock.fileno())
                worker.unsent.clear()
        log.error("prepare worker %s ended (exit code %s)", worker.process.pid, worker.process.exitcode)
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(WorkerDied(f"worker {worker.process.pid} ended"))
        worker.pending.clear()
        if not any(w.alive for w in self._workers):
            self._prepare_queued()
        else:
            self._dispatch()

    def _prepare_queued(self) -> None:
        """No worker to run the queued pages: the crawl process does."""
        while self._queue:
            _task, (page, source, detect), future = self._queue.popleft()
            try:
                future.set_result(Sealed(prepare(page, source, detect=detect)))
            except Exception as exc:
                future.set_exception(exc)

    def close(self) -> None:
        """Stop the workers (their work is done: Scrapy closes pipelines after the last item),
        waiting for a start still under way."""
        self._closed = True
        try:
            workers = self._spawning.result(timeout=START_TIMEOUT)
        except Exception:  # failed (reported by _started, if the crawl got that far) or hung: workers
            workers = []  # started later are daemonic, ended with this process
        self._starter.shutdown(wait=False)
        for worker in workers:
            if self._loop is not None and worker.alive:
                self._loop.remove_reader(worker.conn.fileno())
                if worker.unsent:
                    self._loop.remove_writer(worker.sock.fileno())
            if worker.alive and not worker.unsent:  # (a message half sent: it is killed below)
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
        for worker in workers:
            worker.process.join(timeout=0 if worker.unsent else 5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.sock.close()
            worker.conn.close()
        self._workers = []


def helper_context() -> Any:
    """The multiprocessing context a crawl's helper processes (these workers, and the writer of
    ``crawler.ingest.writer``) start from: one fork server, which has loaded what they use."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def prestart() -> None:
    """Start the helpers' fork server now, in the background (a process of its own: this returns
    at once). For a crawl process that will likely start the workers, a source's first crawl: the
    fork server's loading (about a second of CPU, see ``PRELOAD``) then runs on another CPU while
    the crawl process loads Scrapy and opens its sources, instead of while the first pages wait
    for the workers. A crawl that finds few new articles after all leaves it unused; it ends
    with the crawl process, once loaded (it holds the crawl's stdout and stderr until then).
    Nothing to gain on a machine with one CPU, where the loading would take the crawl's own: the
    workers' start then loads it, as for any crawl."""
    if (os.cpu_count() or 1) < 2:
        return
    helper_context()
    try:
        multiprocessing.forkserver.ensure_running()
    except OSError as exc:  # the workers' start reports it again, and the crawl does without them
        log.warning("could not start the helpers' fork server early (%s)", exc)


def _spawn(count: int, rules: tuple[str, ...] = ()) -> list[_Worker]:
    """Start ``count`` worker processes, detecting with the event-rule files ``rules``. The first
    start waits while the fork server loads what the helpers use (``PRELOAD``): about a second,
    the reason this runs in a thread."""
    context = helper_context()
    workers: list[_Worker] = []
    for _ in range(count):
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, os.getpid(), rules), daemon=True, name="radar-prepare")
        process.start()
        child.close()
        sock = socket.socket(fileno=os.dup(parent.fileno()))
        sock.setblocking(True)  # the same open file as ``parent``, which reads blocking
        workers.append(_Worker(process, parent, sock))
    return workers
