"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

#: Timestamps are shown in China time: on SQLite they are stored as ISO text with a +08:00
#: offset (so string comparison and date filters in ``radar sql`` work in local dates), on
#: PostgreSQL as ``timestamptz``.
STORE_TZ = ZoneInfo("Asia/Shanghai")


class AwareDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime; naive values are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware datetimes, got {value!r}")
        if dialect.name == "sqlite":
            return value.astimezone(STORE_TZ).isoformat(sep=" ", timespec="seconds")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:  # written by hand in SQL without an offset: China time
            value = value.replace(tzinfo=STORE_TZ)
        return value.astimezone(STORE_TZ)  # type: ignore[no-any-return]
