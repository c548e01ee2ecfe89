"""``radar status``: how each source's crawls have gone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import CrawlRunRow, DigestRow


def source_status(session: Session, sources: list[str], *, tz: ZoneInfo, runs: int = 5) -> str:
    """A text report: per source the last run, last success, last error and recent new-item counts;
    then the digest outbox."""
    names = list(dict.fromkeys(sources + list(session.scalars(select(CrawlRunRow.source).distinct()))))
    lines = [f"{'source':<22} {'last run':<17} {'status':<9} {'last success':<17} {'new/run (recent)':<18} last error"]

    def when(row: CrawlRunRow | None) -> str:
        return row.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if row else "never"

    for name in names:
        recent = list(session.scalars(select(CrawlRunRow).where(CrawlRunRow.source == name)
                                      .order_by(CrawlRunRow.started_at.desc()).limit(runs)))
        last = recent[0] if recent else None
        ok = session.scalar(select(CrawlRunRow).where(CrawlRunRow.source == name, CrawlRunRow.status == "finished")
                            .order_by(CrawlRunRow.started_at.desc()).limit(1))
        failed = session.scalar(select(CrawlRunRow).where(CrawlRunRow.source == name,
                                                          CrawlRunRow.status.in_(("failed", "killed")))
                                .order_by(CrawlRunRow.started_at.desc()).limit(1))
        trend = " ".join(str(r.new) for r in reversed(recent)) or "-"
        error = f"{when(failed)} {failed.finish_reason}" if failed else "-"
        lines.append(f"{name:<22} {when(last):<17} {(last.status if last else '-'):<9} {when(ok):<17} "
                     f"{trend:<18} {error}")
    pending = list(session.scalars(select(DigestRow).where(DigestRow.status == "pending")))
    lines.append("")
    if pending:
        for d in pending:
            lines.append(f"digest {d.id} to {d.recipients}: NOT SENT after {d.attempts} attempt(s): {d.last_error}")
    else:
        last_sent = session.scalar(select(DigestRow).where(DigestRow.status == "sent")
                                   .order_by(DigestRow.sent_at.desc()).limit(1))
        lines.append(f"digests: all sent; last {last_sent.sent_at.astimezone(tz):%Y-%m-%d %H:%M}"
                     if last_sent and last_sent.sent_at else "digests: none sent yet")
    return "\n".join(lines)
