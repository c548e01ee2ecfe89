"""``radar status``'s channel rows: each ``notify:`` URL's digests sent, pending and failing, as
the outbox delivers them to a real HTTP receiver on 127.0.0.1, with tokens masked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from crawler.digest.delivery import deliver
from crawler.events.model import Event
from crawler.health.channels import masked
from crawler.health.render import render_status
from storage.db import open_database
from storage.status import status_data
from tests.conftest import free_port
from tests.test_digest import NOW, _config, _fill
from tests.test_digest_channels import Receiver, receiver

__all__ = ["receiver"]  # the fixture, used by name

SECRET = "s3cr3t-hook-token-0123456789"


def _rows(factory: Any, config: Any, now: Any) -> dict[str, list[str]]:
    """The channel table of ``radar status``, by its masked URL (the text as printed)."""
    with factory() as session:
        text = render_status(status_data(session, config, now=now), config, now=now)
    assert SECRET not in text
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("channel "))
    rows = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        url, *cells = line.split()
        rows[url] = cells
    return rows


def test_status_shows_each_channel_sent_pending_and_failing(db_url: str, receiver: Receiver,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", SECRET)
    engine, factory = open_database(db_url)
    _fill(factory)
    hook = f"json://127.0.0.1:{receiver.port}/hook"
    form = f"form://127.0.0.1:{receiver.port}/in?+X-Token=${{HOOK_TOKEN}}"
    dead = f"json://127.0.0.1:{free_port()}/nobody"
    config = _config(db_url, {}, [{"name": "chat", "notify": [hook, form, dead]}])
    shown_form = f"form://127.0.0.1:{receiver.port}/in?+X-Token=***"

    assert sorted(r.status for r in deliver(factory, config, now=NOW)) == ["failed", "sent", "sent"]
    assert [p["headers"]["X-Token"] for p in receiver.posts if "X-Token" in p["headers"]] == [SECRET]
    rows = _rows(factory, config, NOW)
    assert rows[hook][:3] == ["1", "0", "0"] and rows[shown_form][:3] == ["1", "0", "0"]
    assert rows[dead][:4] == ["0", "1", "1", "never"]
    assert " ".join(rows[dead][4:]).startswith("json:// failed: A Connection error")  # no log timestamps

    # the next day the receiver is down: both live channels fail, and the dead one has two waiting
    _fill(factory, [("赣州签约", "http://park.test/9.html", Event(
        type="signing", subtype="project", region="江西省赣州市", parties=["赣州新公司"],
        evidence="赣州新公司签约落户", rule="signing-ceremony"))], at=NOW + timedelta(days=1))
    receiver.down = True
    later = NOW + timedelta(days=1, hours=2)
    statuses = sorted(r.status for r in deliver(factory, config, now=later))
    assert statuses == ["deferred", "failed", "failed", "failed"]  # the dead one's retry, then its new one
    rows = _rows(factory, config, later)
    assert rows[hook][:3] == ["1", "1", "1"] and rows[shown_form][:3] == ["1", "1", "1"]
    assert rows[dead][:3] == ["0", "2", "1"]  # its second digest is deferred, not tried: waiting, not failing

    # back up: the retries go out once each, and the rows say so
    receiver.down = False
    deliver(factory, config, now=later + timedelta(hours=2))
    rows = _rows(factory, config, later + timedelta(hours=2))
    assert rows[hook][:4] == ["2", "0", "0", (later + timedelta(hours=2)).astimezone(config.settings.tz)
                              .strftime("%m-%d")] and rows[shown_form][:3] == ["2", "0", "0"]
    assert rows[dead][:3] == ["0", "2", "1"]
    assert len([p for p in receiver.posts if p["path"] == "/hook"]) == 2
    engine.dispose()


@pytest.mark.parametrize(("url", "shown"), [
    ("dingtalk://${DINGTALK_TOKEN}/", "dingtalk://${DINGTALK_TOKEN}/"),
    ("json://user:${PW}@10.0.0.1/x", "json://user:***@10.0.0.1/x"),
    ("json://user:hunter2@10.0.0.1/x?token=abc&+X-Key=${KEY}", "json://user:***@10.0.0.1/x?token=***&+X-Key=***"),
    ("tgram://123456789:AAFk3jTmN5pQrStUvWxYz012345/-100", "tgram://123456789:***/-100"),
    ("analyst@example.org", "analyst@example.org"),
])
def test_channel_urls_are_masked(url: str, shown: str) -> None:
    assert masked(url) == shown
