"""Sources: declarative entries of the YAML config, validated at load.

A source is data, not code (urlwatch's ``urls.yaml``): a new site is a new entry with a URL
pattern and, where the generic extractor needs help, a few selectors. Errors name the source
and the key, so a typo in a 200-entry file is found at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

from crawler.config.kinds import KINDS, SourceKind, kind_keys
from crawler.config.schema import located, named_entries, option, read_mapping, schema
from crawler.config.settings import Settings, load_settings
from crawler.config.subscriptions import Subscription, parse_subscriptions, placeholders
from crawler.config.values import Schedule, encoding, schedule_of
from crawler.errors import ConfigError

__all__ = ["Config", "Schedule", "Source", "load_config", "parse_config", "parse_schedule", "parse_source"]

SOURCE_KINDS = tuple(KINDS)
SELECTOR_FIELDS = ("title", "body", "published_at", "source", "author")
#: How a source's pages are fetched: plainly, in a browser, or plainly until a challenge page answers.
RENDER_MODES = ("plain", "browser", "auto")
#: What an api source's ``fields`` may name in each item
API_FIELDS = ("url", "title", "date")
#: What a source name may be: lower-case ASCII, digits, "-" and "_" (it names files and locks too).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_HOST_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,62}[a-z0-9_])?)*$")
#: parsel's XPath namespaces (EXSLT regular expressions and sets), so selectors using them compile
_XPATH_NS = {"re": "http://exslt.org/regular-expressions", "set": "http://exslt.org/sets"}


def _name(value: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError("must be lower-case letters, digits, '-' or '_' (e.g. ganzhou-gov)")
    return value


def _url(value: str) -> str:
    if not re.match(r"^https?://[^/\s?#]+", value, re.I) or re.search(r"\s", value):
        raise ValueError(f"needs http(s) URLs, got {value!r}")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return value


def _tag(value: str) -> str:
    if "," in value or not value.strip():
        raise ValueError(f"a tag is a word without commas (storage.tags keeps them between commas), got {value!r}")
    return value.strip()


def _host(value: str) -> str:
    host = value.lower().lstrip(".")
    if not _HOST_RE.match(host):
        raise ValueError(f"expected a host name (e.g. cdn.example.cn), got {value!r}")
    return host


def _selector(value: str, xpath_prefixes: tuple[str, ...]) -> str:
    """``value`` if it compiles: XPath when it starts with one of ``xpath_prefixes``, else CSS
    (with parsel's ``::text`` and ``::attr(name)``)."""
    if not value:
        return value
    if value.startswith(xpath_prefixes):
        from lxml import etree

        try:
            etree.XPath(value, namespaces=_XPATH_NS)
        except etree.XPathError as exc:
            raise ValueError(f"invalid XPath {value!r}: {exc}") from None
        return value
    from cssselect import SelectorError
    from parsel.csstranslator import HTMLTranslator

    try:
        HTMLTranslator().css_to_xpath(value)
    except SelectorError as exc:
        raise ValueError(f"invalid CSS selector {value!r}: {exc}") from None
    return value


def _jmespath(value: str) -> str:
    import jmespath
    from jmespath.exceptions import JMESPathError

    if not value:
        return value
    try:
        jmespath.compile(value)
    except JMESPathError as exc:
        where = getattr(exc, "lex_position", None)
        token = getattr(exc, "token_value", None)
        why = f"unexpected {token!r}" if token is not None else "incomplete expression"
        at = f" at character {where + 1}" if isinstance(where, int) else ""
        raise ValueError(f"invalid JMESPath {value!r}: {why}{at}") from None
    return value


def _proxy(value: str) -> str:
    if not value:
        return value
    if not re.match(r"^https?://[^/\s?#]+/?$", value, re.I):
        raise ValueError(f"expected an http(s) proxy URL (http://host:port), got {value!r}")
    userinfo, at, _host = value.split("://", 1)[1].rpartition("@")
    if at and ":" in userinfo and not placeholders(userinfo.split(":", 1)[1]):
        raise ValueError("a password in the URL must come from the environment: write user:${NAME}@host")
    return value


def _next_page(value: str) -> str:
    return _selector(value, ("/", "("))  # spiders.listing.select_one's rule


def _field_selector(value: str) -> str:
    return _selector(value, ("/", "(", "./"))  # crawler.extraction.selectors' rule


@dataclass(frozen=True)
class Source:
    """One watched site section: one ``sources:`` entry. Each field declares its key's type,
    default and checks (:func:`crawler.config.settings.option`)."""

    name: str = option(help="unique; lower-case letters, digits, - and _", required=True, check=_name)
    kind: str = option(help=" | ".join(KINDS), file_default=SOURCE_KINDS[0], choices=SOURCE_KINDS)
    start_urls: tuple[str, ...] = option(help="one or more http(s) URLs", required=True, check=_url)
    schedule: Schedule = option(help="cron string or 'every: 30m'", required=True)  # noqa: RUF009 - option() returns a dataclasses.field
    # "" : inferred from each listing page (crawler.extraction.links.infer_allow)
    allow: str = option("", "a regular expression of article URLs; inferred when left out", check=_regex)
    deny: str = option("", "regex of URLs never to follow", check=_regex)
    next_page: str = option("", "CSS, or XPath when it starts with / or (", check=_next_page)
    pages: str = option("", "epaper: a regular expression of issue / 版面 pages to follow", check=_regex)
    selectors: Mapping[str, str] = option({}, "field → CSS/XPath", choices=SELECTOR_FIELDS, check=_field_selector)
    # feed, sitemap and api sources (spiders.entries, spiders.api)
    items: str = option("", "api: JMESPath of the list of items; inferred when left out", check=_jmespath)
    fields: Mapping[str, str] = option({}, "api: url, title, date → JMESPath in an item; inferred when left out",
                                       choices=API_FIELDS, check=_jmespath)
    page_param: str = option("", "api: the query parameter of the page number; inferred when left out")
    max_age_days: int | None = option(None, "feed, sitemap, api: skip entries dated more than this many days ago",
                                      minimum=1)
    region: str = option("", "where the source's news is, when a page does not say")
    tags: tuple[str, ...] = option((), "free labels, stored with its articles and events", check=_tag)
    encoding: str = option("", "a charset hint for sites that lie about theirs", check=encoding)
    max_pages: int = option(50, "listing pages (or e-paper pages) per crawl at most", minimum=1)
    enabled: bool = option(True, "false: crawled only when named")
    # re-fetch stored articles of the last ``recheck_days`` days on this schedule, to catch
    # revisions (``radar crawl --recheck``); None: only when asked
    recheck: Schedule | None = option(None, "re-fetch recent stored articles on this schedule")  # noqa: RUF009 - option() returns a dataclasses.field
    recheck_days: int = option(7, "how far back a re-check goes, in days", minimum=1)
    # hosts (and their subdomains) this source may fetch besides its start URLs' registered
    # domains, e.g. a CDN that serves its attachments
    allowed_domains: tuple[str, ...] = option((), "hosts fetched besides the start URLs' own domains", check=_host)
    # pages fetched in Chromium (browser), or plainly until a challenge page answers (auto):
    # spiders.render and spiders.browser
    render: str = option("plain", "plain | browser | auto", choices=RENDER_MODES)
    proxy: str = option("", "an http(s) proxy URL for this source; a password as ${NAME}", check=_proxy)

    @property
    def kind_class(self) -> type[SourceKind]:
        """What this source's kind means: its keys, whether it is re-checked, its spider."""
        return KINDS[self.kind]

    @property
    def rechecked(self) -> bool:
        """Whether this source's stored articles are re-fetched for revisions (its kind's say)."""
        return self.kind_class.rechecked


#: The keys a ``sources:`` entry may have.
_KNOWN_KEYS = frozenset(k.key for k in schema(Source))


@dataclass(frozen=True)
class Config:
    """A loaded config file: settings plus sources (keyed by name, in file order) and the
    digest subscriptions declared in it (``crawler.config.subscriptions``)."""

    settings: Settings
    sources: dict[str, Source]
    path: Path | None = None
    subscriptions: tuple[Subscription, ...] = ()

    def select(self, names: list[str] | tuple[str, ...] = ()) -> list[Source]:
        """The named sources (all enabled ones when none are named); unknown names raise."""
        if not names:
            return [s for s in self.sources.values() if s.enabled]
        missing = [n for n in names if n not in self.sources]
        if missing:
            known = ", ".join(self.sources) or "none"
            raise ConfigError(f"unknown source(s) {', '.join(missing)}; configured: {known}")
        return [self.sources[n] for n in names]


def parse_schedule(value: Any, *, source: str = "", key: str = "schedule") -> Schedule:
    """``"0 */2 * * *"`` (cron) or ``{every: 30m}`` / ``"every: 30m"`` (interval)."""
    try:
        return schedule_of(value)
    except ValueError as exc:
        raise ConfigError(str(exc), source=source or None, key=key) from None


def parse_source(raw: Any, index: int) -> Source:
    """Validate one ``sources:`` entry."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"sources[{index}] must be a mapping, got {type(raw).__name__}")  # a list item: no mark
    name = raw.get("name")
    label = name if isinstance(name, str) else f"sources[{index}]"

    def fail(key: str, why: str) -> NoReturn:
        raise ConfigError(why, source=label, key=key, at=located(raw, key))

    if not isinstance(name, str) or not NAME_RE.match(name):
        fail("name", "must be lower-case letters, digits, '-' or '_' (e.g. ganzhou-gov)")
    values = read_mapping(Source, raw, fail)
    check_kind(KINDS[values.get("kind", SOURCE_KINDS[0])], values, fail)
    return Source(**values)


def check_kind(kind: type[SourceKind], values: Mapping[str, Any], fail: Callable[[str, str], NoReturn]) -> None:
    """The keys of a source of ``kind`` (``values``, as :func:`read_mapping` read them): those its
    kind requires are given, and those only other kinds take are not."""
    helps = {k.name: k.rule.help for k in schema(Source)}
    for key in kind.required:
        if values.get(key) in (None, "", (), {}):
            fail(key, f"is required for {kind.name} sources ({helps[key].removeprefix(kind.name + ': ')})")
    for key, kinds in kind_keys().items():
        if kind.name in kinds or values.get(key) in (None, "", (), {}):
            continue
        if key.startswith("recheck") and not kind.rechecked:
            fail(key, kind.refuses_recheck())
        fail(key, f"is for {' and '.join(kinds)} sources only, not {kind.name} ones")


def _check_rules(files: tuple[str, ...]) -> None:
    """Load the user's event-rule files once, so a bad rule stops the config at load time."""
    if not files:
        return
    from crawler.events.rules import RuleError, load_rules

    try:
        load_rules([Path(f) for f in files])
    except RuleError as exc:
        raise ConfigError(str(exc), key="signal_rules") from None


def parse_config(data: Any, *, path: Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Validate a parsed YAML document into a :class:`Config`."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError("the config file must be a mapping with a 'sources' list")
    unknown = sorted(set(data) - {"settings", "sources", "subscriptions"})
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {', '.join(unknown)}", key=unknown[0],
                          at=located(data, unknown[0]))
    settings_raw = data.get("settings") or {}
    if not isinstance(settings_raw, Mapping):
        raise ConfigError("must be a mapping", key="settings", at=located(data, "settings"))
    settings = load_settings(settings_raw, env=env)
    _check_rules(settings.signal_rules)

    def twice(source: Source, raw: Any) -> NoReturn:
        raise ConfigError("is defined twice", source=source.name, key="name", at=located(raw, "name"))

    sources = named_entries(data.get("sources") or None, "sources", parse_source, twice, at=located(data, "sources"))
    return Config(settings=settings, sources=sources, path=path,
                  subscriptions=parse_subscriptions(data.get("subscriptions")))


def config_path(explicit: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Path | None:
    """The config file to use: ``--config``, else ``RADAR_CONFIG``, else ``./radar.yaml`` if present."""
    env = dict(os.environ) if env is None else env
    if explicit:
        return Path(explicit)
    if env.get("RADAR_CONFIG"):
        return Path(env["RADAR_CONFIG"])
    default = Path("radar.yaml")
    return default if default.exists() else None


def load_config(path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Config:
    """Load and validate the config file (or settings alone when there is none)."""
    resolved = config_path(path, env)
    if resolved is None:
        return parse_config({}, env=env)
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {resolved}: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{resolved}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(resolved)
        problem = " ".join(str(exc.problem or exc.context or "").split())
        if not isinstance(exc, yaml.constructor.ConstructorError):  # a duplicate key or a refused tag
            problem = f"not valid YAML: {problem}"
        raise ConfigError(f"{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{resolved}: not valid YAML: {' '.join(str(exc).split())}") from None
    try:
        return parse_config(data, path=resolved, env=env)
    except ConfigError as exc:
        where = f"{resolved}:{exc.at[0]}:{exc.at[1]}" if exc.at else str(resolved)
        placed = ConfigError(f"{where}: {exc}")
        placed.source, placed.key, placed.at = exc.source, exc.key, exc.at
        raise placed from None


class _Located(dict[Any, Any]):
    """A mapping read from the config file that remembers where it and each of its keys were
    written (line, column), so an error about a value names its place (``crawler.config.settings.located``)."""

    marks: dict[Any, tuple[int, int]]
    start: tuple[int, int]


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key written twice in one mapping is an error (the
    safe loader keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the safe loader reports it
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {first})", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_located_map(self, node: yaml.MappingNode) -> Iterator[_Located]:
        """The safe loader's mapping, as a :class:`_Located` (yielded first, so aliases to it resolve)."""
        data = _Located()
        data.start = (node.start_mark.line + 1, node.start_mark.column + 1)
        data.marks = {}
        yield data
        data.update(self.construct_mapping(node))
        for key_node, _value in node.value:  # merged keys (<<) point at their anchor's text
            if isinstance(key_node, yaml.ScalarNode):
                key = self.construct_object(key_node)  # constructed once already: a cache look-up
                if isinstance(key, str):
                    data.marks.setdefault(key, (key_node.start_mark.line + 1, key_node.start_mark.column + 1))


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:map", _UniqueKeyLoader.construct_located_map)
