"""The words of a digest, per language (``zh`` and ``en``): every label a template or the subject
shows comes from here, so the Chinese digest has no English left in its frame."""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("zh", "en")

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "product": "Policy Radar",
        "digest": "Policy Radar digest",
        "type.signing": "Signings", "type.opening": "Openings", "type.trade": "Trade figures",
        "stage.signed": "signed", "stage.started": "started", "stage.producing": "in production",
        "stage.completed": "completed", "stage.opened": "opened", "stage.trade": "trade figure",
        "documents": "Reports and round-ups",
        "background": "Background: retrospective figures",
        "background_short": "Background",
        "background_note": "Past periods restated by these pages (history, not news).",
        "region_unknown": "Region not stated",
        "untitled": "(untitled)",
        "date_unknown": "date unknown",
        "parties": "Parties",
        "projects": "{n} projects",
        "projects.1": "1 project",
        "sources": "reported by {n} sources",
        "events": "{n} events",
        "events.1": "1 event",
        "doc_more": "and {n} more from this page:",
        "more": "…and {n} more. See all {total} events of this digest with:",
        "bg_more": "and {n} more pages:",
        "no_events": "no new events",
        "need_attention": "{n} sources need attention",
        "need_attention.1": "1 source needs attention",
        "health": "Crawl health",
        "health_bad": "{ok} of {n} sources OK; needs attention:",
        "health_ok": "All {n} sources OK.",
        "health_details": "Details: radar status; thresholds: the health_* settings.",
        "footer": "Policy Radar. Figures are quoted from the pages; check the source before acting on them.",
        "subscription": "Subscription {name}: {what}",
        "background_count": "{n} background",
        "count.signing.1": "1 signing", "count.signing": "{n} signings",
        "count.opening.1": "1 opening", "count.opening": "{n} openings",
        "count.trade.1": "1 trade figure", "count.trade": "{n} trade figures",
        "list_sep": ", ",
    },
    "zh": {
        "product": "政策雷达",
        "digest": "政策雷达 · 招商动态摘要",
        "type.signing": "签约", "type.opening": "开工与投产", "type.trade": "外贸数据",
        "stage.signed": "签约", "stage.started": "开工", "stage.producing": "投产",
        "stage.completed": "竣工", "stage.opened": "开业", "stage.trade": "外贸",
        "documents": "综合报道与工作报告",
        "background": "背景：往期回顾数据",
        "background_short": "背景",
        "background_note": "以下页面回顾的是往年数据，属历史信息，非新动态。",
        "region_unknown": "地区未注明",
        "untitled": "（无标题）",
        "date_unknown": "日期不详",
        "parties": "参与方",
        "projects": "{n} 个项目",
        "projects.1": "1 个项目",
        "sources": "{n} 家媒体报道",
        "events": "{n} 项",
        "events.1": "1 项",
        "doc_more": "本页另有 {n} 项，查询：",
        "more": "……另有 {n} 项。查看本期全部 {total} 项：",
        "bg_more": "另有 {n} 个页面：",
        "no_events": "无新动态",
        "need_attention": "{n} 个来源需要关注",
        "need_attention.1": "1 个来源需要关注",
        "health": "采集状况",
        "health_bad": "{n} 个来源中 {ok} 个正常；需要关注：",
        "health_ok": "全部 {n} 个来源正常。",
        "health_details": "详情：radar status；阈值：health_* 设置项。",
        "footer": "政策雷达。数字引自原网页，使用前请核对原文。",
        "subscription": "订阅 {name}：{what}",
        "background_count": "背景 {n} 项",
        "count.signing.1": "签约 1 项", "count.signing": "签约 {n} 项",
        "count.opening.1": "开工投产 1 项", "count.opening": "开工投产 {n} 项",
        "count.trade.1": "外贸 1 项", "count.trade": "外贸 {n} 项",
        "list_sep": "、",
    },
}


def labels(language: str) -> dict[str, str]:
    """Every label of ``language`` (``zh`` or ``en``; anything else gets ``en``)."""
    return _LABELS.get(language, _LABELS["en"])


def say(language: str, key: str, n: int | None = None, **values: object) -> str:
    """The label ``key`` in ``language`` with its placeholders filled; with ``n``, the singular
    form (``key.1`` or ``key`` without the trailing s) when ``n`` is 1 and one exists."""
    table = labels(language)
    if n is not None:
        values["n"] = n
        if n == 1 and f"{key}.1" in table:
            return table[f"{key}.1"].format(**values)
    return table[key].format(**values)
