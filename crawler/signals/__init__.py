"""Event detection: signings, openings and trade figures found in article text."""

from crawler.signals.model import Event, EventType

__all__ = ["Event", "EventType", "detect"]


def detect(text: str, *, title: str = "", region_hint: str = "") -> list[Event]:
    """Events stated in ``text`` (see :func:`crawler.signals.detect.detect_events`)."""
    from crawler.signals.detect import detect_events

    return detect_events(text, title=title, region_hint=region_hint)
