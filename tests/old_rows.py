"""Rows written as the first migrations' schema had them, for the upgrade tests: an article and
its events, with only the columns those revisions knew."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

#: The timestamp the old rows carry.
OLD_TS = "2025-01-01 00:00:00+08:00"


def insert_old_article(conn: Any, article_id: int = 1, title: str = "t", body: str = "b") -> None:
    """An article row with the columns of revision 0001."""
    conn.execute(text("INSERT INTO articles (id, url, source, title, fetched_at, checked_at, source_name, author, "
                      "doc_number, issuer, index_no, category, region, body, content_hash, encoding, garbled_score, "
                      "epaper_page_name, provenance) VALUES (:id, :url, 's', :title, :ts, :ts, '', '', '', "
                      "'', '', '', '', :body, :hash, '', 0, '', '{}')"),
                 {"id": article_id, "url": f"http://a.test/{article_id}", "hash": f"h{article_id}", "ts": OLD_TS,
                  "title": title, "body": body})


def insert_old_event(conn: Any, event_id: int, etype: str, subtype: str = "", article_id: int = 1) -> None:
    """An event row with the columns of revision 0001 (no stage, no retrospective)."""
    conn.execute(text("INSERT INTO events (id, event_key, article_id, type, subtype, amount_text, currency, "
                      "qualifier, period, region, parties, evidence, confidence, rule, first_seen_at) VALUES "
                      "(:id, :key, :article, :type, :subtype, '', '', '', '', '', '[]', '', 0, '', :ts)"),
                 {"id": event_id, "key": f"k{event_id}", "article": article_id, "type": etype, "subtype": subtype,
                  "ts": OLD_TS})
