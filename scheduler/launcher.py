"""Warm crawl children: the daemon forks each crawl from a process that has already loaded
Scrapy, Twisted and SQLAlchemy, instead of starting a new interpreter that loads them again.

A crawl that finds nothing new fetches a listing page or two in a few hundredths of a second;
a new ``radar crawl`` process spends most of a second of CPU loading its libraries first. A
daemon polling hundreds of sources paid that for every poll. The launcher loads them once, at
the daemon's start, and forks a child per crawl that runs ``radar crawl`` exactly as the
command line would (same arguments, same environment, same exit codes), in a process group of
its own, its output on a pipe the daemon reads.

The launcher is a process of its own (``python -c``, not a fork of the daemon: the daemon has
threads, database connections and a scheduler that a fork must not inherit), which runs
:mod:`crawler.cli.launcher`: the command line's side, as the daemon never imports the CLI. It stays
single-threaded and never starts a reactor, so every fork starts clean. It is told what to run
over a ``SOCK_SEQPACKET`` socket pair, one message per crawl with two descriptors attached: a
socket on which it answers the child's pid and, when it has reaped the child, its exit code;
and the write end of the child's output pipe. When the daemon goes, the launcher sees the end
of its socket and exits; its children, orphaned, stop cleanly (``--watch-parent``).

:class:`WarmChild` answers what the daemon asks of a ``subprocess.Popen`` (``pid``, ``poll``,
``wait``, ``communicate``, ``kill``); where the launcher cannot be used (no ``os.pidfd_open``,
it failed to start) the daemon starts cold processes as before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence

log = logging.getLogger("radar.launcher")

#: longest the launcher may take to load its modules before the daemon gives up on it
START_TIMEOUT = 120.0
#: longest the launcher may take to fork a child and name its pid
SPAWN_TIMEOUT = 30.0
#: largest request (arguments and environment) the launcher reads
MAX_REQUEST = 1 << 20


class LauncherError(RuntimeError):
    """The launcher could not start, or stopped answering: start the crawl cold instead."""


def supported() -> bool:
    """Whether this platform can run the launcher (it waits for its children on pidfds: Linux)."""
    return hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")


class Launcher:
    """The daemon's handle on its launcher process: :meth:`spawn` forks a warm crawl child.

    Thread-safe: the daemon's job threads spawn crawls concurrently. A launcher that died is
    started again on the next spawn. One that cannot start raises :class:`LauncherError`, then
    and on every later spawn (the daemon then starts its crawls cold).
    """

    def __init__(self, start_timeout: float = START_TIMEOUT) -> None:
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._failed: str | None = None

    def start(self) -> None:
        """Start the launcher process and wait until it has loaded what crawls use."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self._failed is not None:
            raise LauncherError(self._failed)
        try:
            self._start_process()
        except LauncherError as exc:
            self._failed = str(exc)  # not tried again for every crawl: each would pay a failed start
            raise

    def _start_process(self) -> None:
        if not supported():
            raise LauncherError("warm crawls need Linux (os.pidfd_open)")
        self._stop()
        # the daemon's output (its log) for the launcher's, or nothing where it has none: asked
        # before the socket pair exists, which would take a closed descriptor 1 or 2's number
        stdout = None if _is_open(1) else subprocess.DEVNULL
        stderr = None if _is_open(2) else subprocess.DEVNULL
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", f"from crawler.cli.launcher import serve; serve({theirs.fileno()})"],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True,
                stdout=stdout, stderr=stderr)
        except OSError as exc:
            ours.close()
            raise LauncherError(f"could not start the launcher: {exc}") from exc
        finally:
            theirs.close()
        self._proc, self._control = proc, ours
        ours.settimeout(self.start_timeout)
        try:
            ready = ours.recv(16)
        except OSError as exc:
            ready = f"{exc}".encode()
        if ready != b"ready":
            self._stop()
            raise LauncherError(f"the launcher did not start (exit code {proc.poll()}; {ready!r})")
        ours.settimeout(None)

    @property
    def running(self) -> bool:
        """Whether the launcher process is up."""
        return self._proc is not None and self._proc.poll() is None

    def spawn(self, args: Sequence[str], env: Mapping[str, str], cwd: str | None = None) -> WarmChild:
        """Fork ``radar <args>`` with environment ``env`` (all of it) in ``cwd`` (default: ours)."""
        request = json.dumps({"args": list(args), "env": dict(env), "cwd": cwd or _cwd()}).encode()
        if len(request) > MAX_REQUEST:
            raise LauncherError("arguments and environment too large for the launcher")
        with self._lock:
            for attempt in (1, 2):
                if not self.running:
                    if self._proc is not None:
                        log.warning("the crawl launcher died (exit code %s); starting it again", self._proc.returncode)
                    self._start()
                try:
                    return self._spawn(request, args)
                except (OSError, LauncherError) as exc:
                    if attempt == 2 or self.running:
                        raise LauncherError(f"the launcher failed to start a crawl: {exc}") from exc
        raise AssertionError("unreachable")

    def _spawn(self, request: bytes, args: Sequence[str]) -> WarmChild:
        assert self._control is not None
        reply, theirs = socket.socketpair()
        out_r, out_w = os.pipe()
        try:
            socket.send_fds(self._control, [request], [theirs.fileno(), out_w])
        except OSError:
            reply.close()
            os.close(out_r)
            raise
        finally:
            theirs.close()
            os.close(out_w)
        child = WarmChild(list(args), reply, out_r)
        try:
            child.pid = child._read_pid(SPAWN_TIMEOUT)
        except BaseException:
            child.close()
            raise
        return child

    def _stop(self) -> None:
        if self._control is not None:
            self._control.close()  # the launcher sees the end of its socket and exits
            self._control = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def close(self) -> None:
        """Stop the launcher (crawls it started and that still run stop too: they are orphaned)."""
        with self._lock:
            self._stop()

    def __enter__(self) -> Launcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # removed since the daemon started in it
        return None


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


class WarmChild:
    """A crawl child forked by the launcher, with the part of ``subprocess.Popen``'s interface
    the daemon uses. Its output (stdout and stderr, merged) is read by :meth:`communicate`."""

    #: the exit code reported when the launcher died before it could tell the child's own
    LOST = 255

    def __init__(self, args: list[str], reply: socket.socket, out: int) -> None:
        self.args = args
        self.pid = 0
        self.returncode: int | None = None
        self._reply = reply
        self._reply_buffer = b""
        self._waiting = threading.Lock()
        self._out: int | None = out
        self._output = bytearray()

    def _read_line(self, deadline: float | None) -> bytes | None:
        """The next line from the launcher; None at the end of its socket; TimeoutExpired at ``deadline``."""
        while b"\n" not in self._reply_buffer:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._reply.settimeout(timeout)
            try:
                chunk = self._reply.recv(256)
            except (TimeoutError, BlockingIOError):  # BlockingIOError: a timeout of 0
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0) from None
            except OSError:
                chunk = b""
            if not chunk:
                return None
            self._reply_buffer += chunk
        line, _, self._reply_buffer = self._reply_buffer.partition(b"\n")
        return line

    def _read_pid(self, timeout: float) -> int:
        try:
            line = self._read_line(time.monotonic() + timeout)
        except subprocess.TimeoutExpired:
            raise LauncherError(f"no answer from the launcher in {timeout:.0f} s") from None
        if line is None or not line.isdigit():
            raise LauncherError(f"the launcher could not fork: {(line or b'no answer').decode(errors='replace')}")
        return int(line)

    def poll(self) -> int | None:
        """The exit code if the child has ended (and been reaped), else None."""
        if self.returncode is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.wait(timeout=0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child's exit code (negative: the signal that killed it)."""
        # one reader of the launcher's answer at a time: the daemon's shutdown waits on a child
        # while the crawl's own thread is reading its output
        if not self._waiting.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        try:
            if self.returncode is not None:
                return self.returncode
            line = self._read_line(None if timeout is None else time.monotonic() + timeout)
            if line is None or not line.lstrip(b"-").isdigit():
                # the launcher died: the orphaned child stops on its own; wait for it to be gone
                self._wait_gone(None if timeout is None else time.monotonic() + timeout)
                self.returncode = self.LOST
                self._output += b"\n[radar] the crawl launcher died; this crawl's exit code is unknown\n"
            else:
                self.returncode = int(line)
            self._reply.close()
            return self.returncode
        finally:
            self._waiting.release()

    def _wait_gone(self, deadline: float | None) -> None:
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            return
        try:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            with selectors.DefaultSelector() as sel:
                sel.register(pidfd, selectors.EVENT_READ)
                if not sel.select(timeout):
                    raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        finally:
            os.close(pidfd)

    def communicate(self, timeout: float | None = None) -> tuple[bytes, None]:
        """Read the child's output to its end and wait for it to exit, as ``Popen.communicate``:
        on ``subprocess.TimeoutExpired`` what was read is kept for the next call."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._out is not None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0, output=bytes(self._output))
            with selectors.DefaultSelector() as sel:
                sel.register(self._out, selectors.EVENT_READ)
                if not sel.select(remaining):
                    continue
            chunk = os.read(self._out, 65536)
            if chunk:
                self._output += chunk
            else:
                os.close(self._out)
                self._out = None
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return bytes(self._output), None

    def kill(self) -> None:
        """SIGKILL the child (not its group) unless it has ended."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """Release the descriptors (the child itself is not touched)."""
        self._reply.close()
        if self._out is not None:
            os.close(self._out)
            self._out = None
