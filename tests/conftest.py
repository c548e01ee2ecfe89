"""Shared fixtures: real databases (SQLite and PostgreSQL), a real SMTP server, the replica sites."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

import pytest
from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("RADAR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Any]:
    """An engine on the PostgreSQL test database. Fails (not skips) when PostgreSQL is down:
    the suite promises to run against both databases."""
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # pragma: no cover - environment problem
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}")
    yield engine
    engine.dispose()


def _postgres_schema_url(admin: Any) -> tuple[str, str]:
    schema = "radar_" + uuid.uuid4().hex[:12]
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return schema, f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def _drop_schema(admin: Any, schema: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def postgres_url(postgres_admin: Any) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (a schema of its own), for what only PostgreSQL does."""
    schema, url = _postgres_schema_url(postgres_admin)
    try:
        yield url
    finally:
        _drop_schema(postgres_admin, schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A fresh, empty database of each kind (PostgreSQL: a schema of its own in database `test`)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'radar.sqlite3'}"
        return
    yield request.getfixturevalue("postgres_url")  # its schema is dropped when this test ends


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'radar.sqlite3'}"


@dataclass
class MailSink:
    """Messages received by the test SMTP server."""

    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sink.envelopes.append(envelope)
        self.sink.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[MailSink]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1."""
    from aiosmtpd.controller import Controller

    port = free_port()
    sink = MailSink("127.0.0.1", port)
    controller = Controller(_Handler(sink), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def replica() -> Iterator[Any]:
    """The four replica sites, served on loopback for the whole session."""
    from crawler.replica.server import ReplicaSites

    sites = ReplicaSites().start()
    try:
        yield sites
    finally:
        sites.stop()


def smtp_env(sink: MailSink, to: str = "analyst@example.org") -> dict[str, str]:
    return {"RADAR_SMTP_HOST": sink.host, "RADAR_SMTP_PORT": str(sink.port), "RADAR_MAIL_TO": to,
            "RADAR_MAIL_FROM": "radar@example.org"}
