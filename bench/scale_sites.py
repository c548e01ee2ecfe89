"""The replica sites of ``bench/scale.py``: one per loopback address, served by one asyncio
thread, each an index of notices whose text is real paragraphs of the seed pages and the cwced
answers (``crawler.replica.bulk``), each answer after 200–400 ms, as a remote site answers."""

from __future__ import annotations

import asyncio
import random
import re
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CWCED = ROOT.parent / "shared" / "pages" / "cwced"


def _paragraphs() -> tuple[str, ...]:
    from crawler.replica.bulk import paragraphs_of, seed_paragraphs

    texts = [p.read_text(encoding="utf-8") for p in sorted((CWCED / "cleaned").glob("*.txt"))]
    return seed_paragraphs() + paragraphs_of(texts)


def addresses(n: int) -> list[str]:
    """``n`` loopback addresses, one per site: 127.0.1.1, 127.0.1.2, …"""
    return [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(n)]


class Sites:
    """``n`` replica sites on loopback addresses of their own, served by one asyncio thread."""

    def __init__(self, n: int, notices: int, seed: int = 25) -> None:
        self.hosts = addresses(n)
        self.notices = notices
        rng = random.Random(seed)
        paragraphs = _paragraphs()
        self.pages: dict[tuple[int, int], bytes] = {}
        for site in range(n):
            for k in range(1, notices + 1):
                body = "".join(f"<p>{p}</p>" for p in rng.sample(paragraphs, 4))
                title = rng.choice(paragraphs)[:24]
                self.pages[site, k] = (f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
                                       f"<div class='content'>{body}<p>发布时间：2026-11-{k:02d}</p></div>"
                                       "</body></html>").encode()
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self.served = 0
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sites:
        self.thread.start()
        self._ready.wait(60)
        return self

    def url(self, site: int) -> str:
        return f"http://{self.hosts[site]}:{self.port}/index.html"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())
        self.loop.run_forever()

    async def _serve(self) -> None:
        first = await asyncio.start_server(lambda r, w: self._client(0, r, w), self.hosts[0], 0)
        self.port = first.sockets[0].getsockname()[1]
        for i, host in enumerate(self.hosts[1:], 1):
            await asyncio.start_server(lambda r, w, i=i: self._client(i, r, w), host, self.port)  # type: ignore[misc]
        self._ready.set()

    async def _client(self, site: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                await asyncio.sleep(random.uniform(0.2, 0.4))  # a remote site's latency
                status, body = self._page(site, path)
                writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
                self.served += 1
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    def _page(self, site: int, path: str) -> tuple[str, bytes]:
        if path == "/index.html":
            links = "".join(f"<li><a href='/a/{k}.html'>通知 {k}</a></li>" for k in range(1, self.notices + 1))
            return "200 OK", f"<html><body><ul>{links}</ul></body></html>".encode()
        m = re.fullmatch(r"/a/(\d+)\.html", path)
        if m and (site, int(m.group(1))) in self.pages:
            return "200 OK", self.pages[site, int(m.group(1))]
        return "404 Not Found", b"not found"
