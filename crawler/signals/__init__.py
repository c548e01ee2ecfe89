"""Event detection: signings, openings and trade figures found in article text.

``detect_events(text)`` is the pure detector (``crawler.signals.detect``); ``event_key`` says
which mentions are one real-world event (``crawler.signals.keys``).
"""

from crawler.signals.detect import detect_events
from crawler.signals.keys import event_key
from crawler.signals.model import Event, EventType

__all__ = ["Event", "EventType", "detect_events", "event_key"]
