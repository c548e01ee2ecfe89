"""The schema every config key is declared with: :func:`option` on a dataclass field, its
:class:`Rule`, and :func:`read_mapping`, which checks a mapping of a file against it (one line per
mistake, naming the key)."""


from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

from crawler.config.values import Schedule, describe, schedule_of
from crawler.errors import ConfigError

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


# --- the schema: how a key is declared and checked ------------------------------------------


@dataclass(frozen=True)
class Rule:
    """What a config key accepts, beyond its type (the dataclass field's annotation)."""

    help: str
    key: str = ""  # the key in the file, when it differs from the attribute's name
    required: bool = False  # the file must give it (None, '' and [] count as not given)
    file_default: Any = None  # the value when the file leaves it out (else the field's default)
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None  # exclusive lower bound
    choices: tuple[str, ...] = ()  # allowed values (of each item, or each mapping key)
    check: Callable[[Any], Any] | None = None  # each value (or item): returns it normalised, raises ValueError
    split: bool = False  # a string is a comma-separated list
    file: bool = True  # False: environment only (secrets)
    env: bool = True  # settings: also read from RADAR_<NAME>
    shown: str = ""  # the default as docs/configuration.md shows it
    crawl: bool = False  # a crawl knob: the crawl reads it as the Scrapy setting RADAR_<NAME>


def option(default: Any = MISSING, help: str = "", **rule: Any) -> Any:
    """A dataclass field declared with its :class:`Rule` (``default`` MISSING: required positional)."""
    meta = {"rule": Rule(help=help, **rule)}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta) if default is not MISSING else field(metadata=meta)


@dataclass(frozen=True)
class Key:
    """One declared key of a config section: the attribute, the file key, its type and rule."""

    name: str
    key: str
    type: Any
    rule: Rule
    default: Any

    @property
    def env_name(self) -> str:
        """The environment variable of a setting."""
        return "RADAR_" + self.name.upper()


@cache
def schema(cls: type) -> tuple[Key, ...]:
    """The declared keys of a dataclass whose fields were made with :func:`option`, in order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        rule = f.metadata.get("rule")
        if rule is None:
            continue
        if rule.file_default is not None:
            default = rule.file_default
        elif f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        else:
            default = None
        out.append(Key(f.name, rule.key or f.name, hints[f.name], rule, default))
    return tuple(out)



def _optional(tp: Any) -> Any:
    """``X | None`` → ``X``."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0]
    return tp


def _bounded(value: float, rule: Rule) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    low, high = rule.minimum, rule.maximum
    if low is not None and high is not None and not low <= value <= high:
        raise ValueError(f"must be between {low:g} and {high:g}, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"must be at least {low:g}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"must be at most {high:g}, got {value!r}")
    if rule.above is not None and value <= rule.above:
        raise ValueError(f"must be more than {rule.above:g}, got {value!r}")


def _item(value: Any, rule: Rule) -> Any:
    """The choices and check of one string value."""
    if rule.choices and value not in rule.choices:
        raise ValueError(f"must be one of {', '.join(rule.choices)}, got {value!r}")
    return rule.check(value) if rule.check is not None else value


def _strings(value: Any, rule: Rule) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [v.strip() for v in (value.split(",") if rule.split else [value]) if v.strip()]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
        if not all(items):
            raise ValueError("expected non-empty strings in the list, got an empty one")
    else:
        raise ValueError(f"expected a string or a list of strings, got {describe(value)}")
    return tuple(dict.fromkeys(_item(v, rule) for v in items))


def check_value(k: Key, value: Any) -> Any:
    """``value`` as read from a file, typed and checked against ``k``; ValueError says why not."""
    tp = _optional(k.type)
    rule = k.rule
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {describe(value)}")
        return value
    if tp is int or tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or (tp is int and isinstance(value, float)):
            noun = "a whole number" if tp is int else "a number"
            raise ValueError(f"expected {noun}, got {describe(value)}")
        _bounded(value, rule)
        return tp(value)
    if tp is str or tp is Path:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {describe(value)} (quote it)")
        return _item(value.strip(), rule)  # a Path stays text here: '' means the default folder
    if typing.get_origin(tp) is tuple:
        return _strings(value, rule)
    if tp is Schedule:
        return schedule_of(value)
    if typing.get_origin(tp) in (Mapping, dict):
        if not isinstance(value, Mapping) or not all(isinstance(n, str) for n in value):
            raise ValueError(f"expected a mapping, got {describe(value)}")
        if typing.get_args(tp)[1] is str:
            bad = next((v for v in value.values() if not isinstance(v, str)), None)
            if bad is not None:
                raise ValueError(f"expected a string for each name, got {describe(bad)}")
            unknown = sorted(set(value) - set(rule.choices)) if rule.choices else []
            if unknown:
                raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(rule.choices)}")
            return {n: rule.check(v) if rule.check else v for n, v in value.items()}
        return dict(value)
    raise TypeError(f"no check for the type of {k.name}: {tp!r}")  # a declaration error, not a user's


def from_text(k: Key, text: str) -> Any:
    """An environment value (text) converted to ``k``'s type, then checked like a file value."""
    tp = _optional(k.type)
    value: Any = text.strip()
    if tp is bool:
        if value.lower() not in _TRUE | _FALSE:
            raise ValueError(f"expected true/false (1/0, yes/no, on/off), got {text!r}")
        value = value.lower() in _TRUE
    elif tp is int or tp is float:
        try:
            value = tp(value)
        except ValueError:
            raise ValueError(f"expected {'a whole number' if tp is int else 'a number'}, got {text!r}") from None
    return check_value(k, value)


def located(raw: Any, key: str | None = None) -> tuple[int, int] | None:
    """Where ``key`` (else the mapping itself) was written, for a mapping loaded from a file by
    ``crawler.config.sources`` (which records it); None for other mappings."""
    marks = getattr(raw, "marks", None)
    if marks is None:
        return None
    at: tuple[int, int] | None = marks.get(key) if key is not None else None
    return at or getattr(raw, "start", None)


def read_mapping(cls: type, raw: Mapping[str, Any], fail: Callable[[str, str], NoReturn]) -> dict[str, Any]:
    """Attribute name → checked value for each key of ``cls``'s schema that ``raw`` (a file's
    mapping) gives; unknown keys, missing required ones and bad values go to ``fail(key, why)``."""
    keys = schema(cls)
    known = {k.key: k for k in keys}
    unknown = [name for name in raw if name not in known]
    if unknown:
        fail(str(unknown[0]), f"unknown key(s) {', '.join(map(str, unknown))}; known: {', '.join(known)}")
    out: dict[str, Any] = {}
    for k in keys:
        value = raw.get(k.key)
        if value == "" and _optional(k.type) is not k.type:  # `recheck: ''`: an optional key left empty
            value = None
        if k.key in raw and not k.rule.file:
            fail(k.key, f"is a secret and is never read from a file: remove it and set {k.env_name} "
                        "in the environment")
        if value is None or (k.rule.required and value in ("", [], {})):
            if k.rule.required:
                fail(k.key, f"is required ({k.rule.help})" if k.rule.help else "is required")
            if k.rule.file_default is not None:
                out[k.name] = k.rule.file_default
            continue
        try:
            out[k.name] = check_value(k, value)
        except ValueError as exc:
            fail(k.key, str(exc))
    return out


class Named(Protocol):
    """A parsed config entry: a source or a subscription."""

    @property
    def name(self) -> str: ...


NamedT = TypeVar("NamedT", bound=Named)


def named_entries(raw: Any, key: str, parse: Callable[[Any, int], NamedT],
                  twice: Callable[[NamedT, Any], NoReturn], *, at: tuple[int, int] | None = None) -> dict[str, NamedT]:
    """The ``key:`` list of a config file (None: empty), each entry parsed by ``parse(entry, index)``,
    keyed by name in file order; a name given twice goes to ``twice(parsed, entry)``."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ConfigError("must be a list", key=key, at=at)
    out: dict[str, NamedT] = {}
    for index, entry in enumerate(raw):
        parsed = parse(entry, index)
        if parsed.name in out:
            twice(parsed, entry)
        out[parsed.name] = parsed
    return out
