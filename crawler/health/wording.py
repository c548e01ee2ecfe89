"""What a health alert says, per language (``en`` and ``zh``). Pure.

A rule gives a message key and its values; :func:`say` fills the key's sentence in a language.
Values are said the same way in every sentence: a :class:`datetime.timedelta` as a duration
(:func:`human`), a :class:`Term` as the language's word for it, a :class:`Quoted` text (an
exception, a reason another part wrote) as it is (in Chinese between “ ”), anything else as
``str.format`` writes it. English is what ``radar status``, the logs and the metrics show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final


@dataclass(frozen=True)
class Term:
    """A word the language tables translate (``failed``, ``abandoned`` …): ``term.<word>``."""

    word: str


@dataclass(frozen=True)
class Quoted:
    """Text from outside the rules (an exception, a finish reason): never translated."""

    text: str


_UNITS: Final = {"en": ("{n} days", "{n} h", "{n} min", "{n} s"), "zh": ("{n}天", "{n}小时", "{n}分钟", "{n}秒")}

_SENTENCES: dict[str, dict[str, str]] = {
    "en": {
        "failing": "the last {n} crawls failed; last: {why}",
        "failing.bare": "the last {n} crawls failed; last: {status}",
        "overdue": "no successful crawl for {since} (scheduled every {interval}); is the daemon running?",
        "stale": "no new items for {since}; usually one every {usual}",
        "no_links": "the last {n} crawls found no article links on the listing pages (earlier runs found "
                    "{before}): the site's template or URL pattern changed; check `allow`",
        "error_spike.listing": "{failed} of {requests} listing requests failed in the latest crawl: {errors}",
        "error_spike": "{failed} of {requests} requests failed in the latest crawl ({rate:.0%}; usually "
                       "{usual:.0%}): {errors}",
        "garbled": "{bad} of the last {n} articles look garbled (mis-decoded text); set the source's `encoding`",
        "blocked": "the latest crawl got only challenge pages ({reason}); try `render: auto` or "
                   "`render: browser`, or a `proxy:`",
        "challenge": "the site answered {n} request(s) with a challenge / WAF page in the latest crawl; "
                     "it may be blocking the crawler",
        "challenge.kinds": "the site answered {n} request(s) with a challenge / WAF page ({kinds}) in the latest "
                           "crawl; it may be blocking the crawler",
        "queued": "a crawl has waited {since} on the queue for a radar worker; is a worker running that takes "
                  "the source's queue, and are the workers keeping up?",
        "term.failed": "failed", "term.blocked": "blocked", "term.killed": "killed", "term.abandoned": "abandoned",
    },
    "zh": {
        "failing": "连续{n}次抓取失败，最近一次{status}：{why}",
        "failing.bare": "连续{n}次抓取失败，最近一次{status}（原因未记录）",
        "overdue": "已{since}没有成功抓取（计划每{interval}一次）；请确认守护进程在运行",
        "stale": "已{since}没有新文章；通常每{usual}就有一篇",
        "no_links": "最近{n}次抓取在列表页上没找到文章链接（之前能找到{before}个）：网站模板或网址格式可能变了，"
                    "请检查 `allow`",
        "error_spike.listing": "最近一次抓取的{requests}个列表页请求中{failed}个失败：{errors}",
        "error_spike": "最近一次抓取的{requests}个请求中{failed}个失败（{rate:.0%}，通常{usual:.0%}）：{errors}",
        "garbled": "最近{n}篇文章中有{bad}篇像是乱码（编码识别错误）；请设置该来源的 `encoding`",
        "blocked": "最近一次抓取只收到验证或拦截页面（{kinds}）；可试 `render: auto` 或 `render: browser`，"
                   "或配置 `proxy:`",
        "challenge": "最近一次抓取中网站对{n}个请求返回了验证或防火墙页面，可能在拦截抓取",
        "challenge.kinds": "最近一次抓取中网站对{n}个请求返回了验证或防火墙页面（{kinds}），可能在拦截抓取",
        "queued": "有一次抓取已在队列中等了{since}，仍没有 `radar worker` 接手；请确认有处理该来源队列的 "
                  "`radar worker` 在运行，且处理得过来",
        "term.failed": "出错", "term.blocked": "被拦截", "term.killed": "超时被终止",
        "term.abandoned": "进程中途退出",
    },
}

#: the rule names as the Chinese digest shows them (English shows the rule's own name)
_RULES_ZH: Final = {
    "failing": "连续失败", "overdue": "长时间未抓取", "stale": "久无新文章", "no_links": "找不到文章链接",
    "error_spike": "错误激增", "garbled": "乱码", "challenge": "遇到验证页", "blocked": "被封锁",
    "queued": "排队过久",
}


def human(delta: timedelta, language: str = "en") -> str:
    """A duration in ``language``: ``9 days``, ``5 h``, ``40 min``, ``12 s`` (``9天``, ``5小时``,
    ``40分钟``, ``12秒``). The unit is the largest of which there are two or more; in Chinese a
    whole number of a larger unit is said in it (``1小时``, not ``60分钟``)."""
    seconds = delta.total_seconds()
    units = _UNITS.get(language, _UNITS["en"])
    sizes = (86400, 3600, 60, 1)
    for text, size in zip(units, sizes, strict=True):
        whole = language == "zh" and seconds >= size and seconds % size == 0
        if seconds >= 2 * size or whole or size == 1:
            return text.format(n=f"{seconds / size:.0f}")
    raise AssertionError("unreachable: the last unit always matches")


def rule_label(rule: str, language: str) -> str:
    """The name a reader of ``language`` sees for ``rule`` (``overdue`` → ``长时间未抓取``)."""
    return _RULES_ZH.get(rule, rule) if language == "zh" else rule


def keys() -> set[str]:
    """Every message key (the ``term.`` words left out)."""
    return {k for k in _SENTENCES["en"] if not k.startswith("term.")}


def say(key: str, values: Mapping[str, object], language: str = "en") -> str:
    """The sentence ``key`` in ``language`` (``zh`` or ``en``; anything else gets ``en``) with
    ``values`` filled in."""
    table = _SENTENCES.get(language, _SENTENCES["en"])

    def spoken(value: object) -> object:
        if isinstance(value, timedelta):
            return human(value, language)
        if isinstance(value, Term):
            return table[f"term.{value.word}"]
        if isinstance(value, Quoted):
            return f"“{value.text}”" if language == "zh" else value.text
        return value

    return table[key].format(**{name: spoken(value) for name, value in values.items()})
