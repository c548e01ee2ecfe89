"""The writer: a process of its own that stores a big crawl's articles for the crawl process.

Storing a batch of articles (dedupe look-ups, story assignment, inserts, events: one
transaction, ``crawler.ingest.ingestor.Ingestor.ingest_many``) costs about a quarter of a millisecond
per article in a process that does nothing else, and more than twice that in the crawl process,
between Scrapy's downloads and callbacks, whose code and data keep evicting it from the CPU's
caches. The crawl process is the pipeline's narrowest part, so a crawl whose pages are prepared
in worker processes (``crawler.ingest.pool``) hands its batches to one more process instead: the
writer stores them in the order they come, one transaction each, and sends each batch's results
back, which ``spiders.pipelines.StorePipeline`` counts as if it had stored the batch itself.
(bench/crawl.py, 6 interleaved pairs: the crawl process 2.63 → 2.01 ms per page, the workers
and the writer 2.06 → 2.30, 388 → 442 pages/s.)

One writer, not storing in each worker: two processes writing one SQLite database take turns
at its lock and each re-reads what the other changed (measured: more CPU in all than storing in
the crawl process). The writer starts from the workers' fork server, which has loaded the
database layer for it (``crawler.ingest.pool.PRELOAD``), so it costs a fork and opening the database,
and only crawls that start workers start it.

Nothing is lost when the writer is not there: until it has started, and for good once it is
gone (killed, out of memory), the crawl process stores its batches itself, the batches the
writer had not answered included. Storing a batch twice is harmless: what the first attempt
committed, the second finds stored (``unchanged``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from crawler.ingest.pool import SharedHelper, helper_context, pickled

if TYPE_CHECKING:
    from crawler.ingest.ingestor import Pending

__all__ = ["StoreFailed", "StoreWriter", "WriterGone"]

log = logging.getLogger(__name__)
START_TIMEOUT = 60.0  # seconds to wait for the writer to open the database (a second, normally)
# Batches wait in the pipe to the writer while it stores the one before; at the kernel's
# default of 64 KiB, sending a batch of 64 articles (about a megabyte) blocked the reactor until
# the writer had read most of it. 1 MiB is what an unprivileged process may ask for (Linux's
# pipe-max-size); where the kernel refuses, or has no such setting, the default stays.
PIPE_BYTES = 1 << 20


class StoreFailed(Exception):
    """The writer could not store a batch at all; ``database`` when the database itself failed
    (SQLAlchemy's ``OperationalError``: a full disk, a server gone away), nothing stored."""

    def __init__(self, message: str, *, database: bool) -> None:
        super().__init__(message)
        self.database = database


class WriterGone(Exception):
    """The writer ended (or never started) before answering: the batch is to be stored here."""


def _portable(results: list[Any]) -> list[Any]:
    """``results`` with each exception that does not pickle replaced by one that does."""
    out = []
    for result in results:
        if isinstance(result, Exception):
            try:
                pickle.dumps(result)
            except Exception:
                result = RuntimeError(f"{type(result).__name__}: {result}")
        out.append(result)
    return out


def _serve(tasks: Connection, answers: Connection, url: str, rules: tuple[str, ...] = ()) -> None:
    """The writer's loop: ``(number, batch)`` in, ``(number, "stored", results)`` or ``(number,
    "failed" | "database", message)`` out; ``None`` or the crawl process's end stops it. It
    detects the events of articles not prepared with them using the event-rule files ``rules``."""
    from sqlalchemy.exc import OperationalError

    from crawler.errors import brief
    from crawler.ingest.ingestor import Ingestor
    from crawler.ingest.prepare import use_rules

    use_rules(rules)
    try:
        ingestor = Ingestor.for_url(url)
    except Exception as exc:  # reported; the crawl process stores its batches itself
        answers.send(("failed", brief(exc)))
        return
    answers.send(("ready", None))
    try:
        while True:
            try:
                message = tasks.recv()
            except EOFError:  # the crawl process is gone; what it sent before is stored
                return
            if message is None:
                return
            number, batch = message
            try:
                answer: tuple[Any, ...] = (number, "stored", _portable(ingestor.ingest_many(batch)))
            except OperationalError as exc:
                answer = (number, "database", brief(exc))
            except Exception as exc:
                answer = (number, "failed", brief(exc))
            answers.send_bytes(pickled(answer))
    finally:
        ingestor.close()


def _widen(conn: Connection) -> None:
    if hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux
        with contextlib.suppress(OSError):
            fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


class StoreWriter(SharedHelper):
    """The writer process of one database, as the crawl process sees it; shared by the spiders
    of a crawl process (:meth:`acquire` with the database URL, :meth:`release`), like the prepare
    workers. :meth:`submit` sends a batch, on the reactor's asyncio loop, and calls back with its
    results there; it refuses (returns False) while the writer is starting or once it is gone,
    and the caller stores the batch itself.
    """

    def __init__(self, url: str, rules: tuple[str, ...] = ()) -> None:
        self.url = url
        self.rules = rules
        self._process: Any = None
        self._tasks: Connection | None = None
        self._answers: Connection | None = None
        self._ready = False
        self._gone = False
        self._closed = False
        self._number = 0
        self._waiting: dict[int, Callable[[Any], None]] = {}  # batch number -> its callback
        self._loop = asyncio.get_running_loop()
        self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="radar-writer-start")
        self._starting: Future[tuple[Any, Connection, Connection]] = self._starter.submit(self._start)
        asyncio.wrap_future(self._starting, loop=self._loop).add_done_callback(self._started)

    def _start(self) -> tuple[Any, Connection, Connection]:
        """In a helper thread: start the process, wait until it has opened the database."""
        context = helper_context()
        task_out, task_in = context.Pipe(duplex=False)
        answer_out, answer_in = context.Pipe(duplex=False)
        _widen(task_in)
        process = context.Process(target=_serve, args=(task_out, answer_in, self.url, self.rules), daemon=True,
                                  name="radar-store")
        try:
            process.start()
        finally:
            task_out.close()
            answer_in.close()
        if not answer_out.poll(START_TIMEOUT):
            process.kill()
            raise TimeoutError(f"no answer in {START_TIMEOUT:.0f} s")
        kind, detail = answer_out.recv()
        if kind != "ready":
            process.join(timeout=5)
            raise RuntimeError(detail)
        return process, task_in, answer_out

    def _started(self, starting: asyncio.Future[tuple[Any, Connection, Connection]]) -> None:
        if self._closed:
            return
        try:
            self._process, self._tasks, self._answers = starting.result()
        except Exception as exc:
            self._gone = True
            log.error("the store writer could not start (%s); the crawl process stores its articles itself", exc)
            return
        self._ready = True
        self._loop.add_reader(self._answers.fileno(), self._receive)

    @property
    def available(self) -> bool:
        """Started and not gone: :meth:`submit` accepts batches."""
        return self._ready and not self._gone and not self._closed

    def submit(self, batch: Sequence[Pending], done: Callable[[Any], None]) -> bool:
        """Send ``batch`` to be stored; ``done`` is called on the loop with its results (one per
        article, as ``Ingestor.ingest_many`` gives them), a :class:`StoreFailed`, or
        :class:`WriterGone` (store it here). False, with ``done`` never called: not available."""
        if not self.available:
            return False
        assert self._tasks is not None
        self._number += 1
        self._waiting[self._number] = done
        try:
            self._tasks.send_bytes(pickled((self._number, list(batch))))
        except OSError:  # its end of the pipe is closed: it is gone
            self._lost()
        return True

    def _receive(self) -> None:
        assert self._answers is not None
        try:
            number, kind, value = self._answers.recv()
        except (EOFError, OSError):
            self._lost()
            return
        done = self._waiting.pop(number)
        if kind == "stored":
            done(value)
        else:
            done(StoreFailed(value, database=kind == "database"))

    def _lost(self) -> None:
        if self._gone:
            return
        self._gone = True
        if self._answers is not None:
            self._loop.remove_reader(self._answers.fileno())
        code = self._process.exitcode if self._process is not None else None
        log.error("the store writer ended (exit code %s); the crawl process stores the %d batch(es) it had not "
                  "answered, and the rest", code, len(self._waiting))
        waiting, self._waiting = self._waiting, {}
        for done in waiting.values():
            done(WriterGone())

    def close(self) -> None:
        """Stop the writer once it has stored what it was sent (callers wait for their answers
        first); a start still under way is waited for, then stopped."""
        self._closed = True
        # the result itself (_started, on this loop, may not have run yet); a start that failed
        # was reported by _started, and one that hangs is daemonic: it ends with this process
        with contextlib.suppress(Exception):
            self._process, self._tasks, self._answers = self._starting.result(timeout=START_TIMEOUT)
        self._starter.shutdown(wait=False)
        if self._answers is not None and self._ready and not self._gone:
            self._loop.remove_reader(self._answers.fileno())
        if self._tasks is not None:
            with contextlib.suppress(OSError):
                self._tasks.send(None)
            self._tasks.close()
        if self._process is not None:
            self._process.join(timeout=30)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        if self._answers is not None:
            self._answers.close()
        waiting, self._waiting = self._waiting, {}
        for done in waiting.values():  # not answered: stored by the caller, if it still can
            done(WriterGone())
