"""Event detection: signings, openings and trade figures found in article text.

``detect_events(text)`` is the pure detector (``crawler.events.detect``); ``event_key`` says
which mentions are one real-world event (``crawler.events.keys``).

The detector (its rules, number grammar and place-name index: about 0.4 s of imports) loads on
first use of ``detect_events``, not with the package: a crawl process unpickles the workers'
``Event`` objects, which imports this package, and never detects anything itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler.events.keys import event_key
from crawler.events.model import Event, EventType

if TYPE_CHECKING:
    from crawler.events.detect import detect_events

__all__ = ["Event", "EventType", "detect_events", "event_key"]


def __getattr__(name: str) -> Any:
    if name == "detect_events":
        from crawler.events.detect import detect_events

        return detect_events
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
