"""Line-level boilerplate filters for extracted article text.

The extractor picks the right part of a page; these filters remove the lines that templates
put *inside* that part anyway: ICP/公安备案 and copyright lines, hotlines, 投稿 notices,
责任编辑/编辑 credits, 原标题 notes of reposts, 打印/关闭/分享 tool strips, 上一篇/下一篇 links, and everything after a
相关文章/相关新闻 heading at the end.  All functions are pure and work on lists of lines (or
on text with one paragraph per line).

:func:`clean_fields` is the last step before an article is stored: it removes control characters
from every text field, so a page title cannot carry terminal escape sequences into ``radar sql``.
"""

from __future__ import annotations

import re
from dataclasses import fields

from crawler.article import Article

__all__ = [
    "CONTROL_CHARS",
    "clean_fields",
    "clean_lines",
    "clean_text",
    "escape_controls",
    "is_boilerplate_line",
    "is_byline",
    "strip_controls",
    "trim_tail",
]

# C0 controls but tab and newline, DEL, C1 controls (ESC and CSI start terminal escape
# sequences), and the bidi embeddings, overrides and isolates that reorder what a line shows
CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\t\n]+")
_ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# fields whose line breaks and tabs are text (paragraphs, table cells)
_MULTILINE_FIELDS = ("body",)
# the URL is the article's identity (already percent-encoded); the encoding is a codec name
_TEXT_FIELDS = tuple(f.name for f in fields(Article) if f.type in ("str", str) and f.name not in ("url", "encoding"))

# Whole-line boilerplate: matched anywhere in a *short* line.
_BOILERPLATE = re.compile(
    r"ICP\s*[备證证]|ICP\s*[:：]|公网安备|公安[机關关]*备案|京公网|网站标识码|版权所有|版權所有|"
    r"Copyright|\(c\)\s*\d{4}|©|All Rights Reserved|主办单位|主辦單位|承办单位|技术支持[:：]|"
    r"投稿(?:须知|邮箱|信箱|热线|电话)|新闻热线|服务热线|举报电话|违法和不良信息|"
    r"^\s*[\[【(（]?\s*(?:责任编辑|责编|编辑|审核|校对|终审|初审|监制|值班编辑|实习编辑)\s*[:：]|"
    # a repost's note of the original headline restates the title; it is not body text
    r"^\s*[\[【(（]\s*原(?:标)?题\s*[:：]|"
    r"打印本页|关闭窗口|打印文章|【\s*打印\s*】|【\s*关闭\s*】|\[\s*打印\s*\]|\[\s*关闭\s*\]|"
    r"分享到[:：]?|扫一扫|微信扫一扫|返回顶部|我要纠错|字号[:：]\s*[【\[]?\s*大|"
    r"^\s*(?:上一篇|下一篇|上一条|下一条)|点击数[:：]|浏览次数[:：]|阅读次数[:：]|"
    r"推荐给朋友|收藏本页|加入收藏|设为首页|当前位置[:：]|您现在的位置|你的位置[:：]|"
    r"本文来源[:：]\s*$|查看原文|原文链接[:：]|禁止商业转载|转载申请|非法侵权|未经授权[,，]?\s*禁止转载|"
    r"^\s*Trackback\s*[:：]|点击此处收藏|收藏本文|^\s*\[?\s*(?:打印|关闭|返回|顶部)\s*\]?\s*$",
    re.I,
)
# A line longer than this is prose, even if it mentions 版权所有 in passing.
_MAX_BOILERPLATE_LEN = 80

# Metadata labels that make up bylines ("发布时间：2024-01-05  来源：新华社  作者：张三").
_BYLINE_LABEL = re.compile(
    r"(?:来源|來源|作者|发布时间|发布日期|发布者|发布机构|时间|日期|编辑|责编|浏览|点击|阅读|字号|稿源|记者|"
    r"通讯员|摄影|供稿|信息来源|文章来源|访问量|浏览量|阅读量|更新时间)\s*[:：]"
)
_DATE_LIKE = re.compile(r"(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}")

# Headings that start the related-content tail of an article page.
_TAIL_HEADING = re.compile(
    r"^\s*[\[【(（]?\s*(?:相关文章|相关新闻|相关链接|相关阅读|相关报道|相关稿件|相关推荐|相关内容|相关附件列表|"
    r"推荐阅读|热点推荐|猜你喜欢|热门推荐|热门文章|热门新闻|最新文章|精彩推荐|精彩图片|更多新闻|更多精彩|"
    r"网友评论|发表评论|热门评论|最新评论|我要评论|评论区|上一篇|下一篇|上一条|下一条)"
)


def is_boilerplate_line(line: str) -> bool:
    """True for a short line that is template furniture (ICP, copyright, 责任编辑, 打印 …)."""
    s = line.strip()
    if not s:
        return True
    if len(s) > _MAX_BOILERPLATE_LEN or (len(s) > 24 and "。" in s and "，" in s):
        return False  # prose that mentions 版权所有 or 分享到 in passing
    return bool(_BOILERPLATE.search(s))


def is_byline(line: str, *, bare_dates: bool = True) -> bool:
    """True for a metadata line: date, 来源, 作者, 浏览次数 … with no sentence in it.

    With ``bare_dates=False`` a line that is only a date does not count (at the end of an
    official document it is the signature date, which belongs to the text).
    """
    s = line.strip()
    if not s or len(s) > 120 or "。" in s:
        return False
    labels = len(_BYLINE_LABEL.findall(s))
    if labels >= 1 and (labels >= 2 or _DATE_LIKE.search(s) or len(s) <= 40):
        return True
    if not bare_dates:
        return False
    # a bare date/time line ("2024-01-05 10:20", "2024年1月5日")
    return (
        bool(_DATE_LIKE.search(s))
        and len(_DATE_LIKE.sub("", s).strip(" :：0123456789-/年月日时分秒星期一二三四五六天")) <= 6
    )


def trim_tail(lines: list[str]) -> list[str]:
    """Cut a trailing related-content section and trailing tool/byline lines.

    A 相关文章-style heading only ends the article when it is a short line in the second half
    of the text (a sentence that mentions 相关新闻 in the middle of a story does not).
    """
    n = len(lines)
    for i in range(n // 2, n):
        s = lines[i].strip()
        if len(s) <= 24 and _TAIL_HEADING.match(s):
            lines = lines[:i]
            break
    while lines and (is_boilerplate_line(lines[-1]) or is_byline(lines[-1], bare_dates=False)):
        lines = lines[:-1]
    return lines


def clean_lines(lines: list[str]) -> list[str]:
    """Remove boilerplate lines anywhere in the text (see :func:`is_boilerplate_line`)."""
    return [line for line in lines if not is_boilerplate_line(line)]


def clean_text(text: str) -> str:
    """:func:`trim_tail` + :func:`clean_lines` on text with one paragraph per line."""
    return "\n".join(clean_lines(trim_tail(text.split("\n"))))


def strip_controls(text: str, *, multiline: bool = False) -> str:
    """``text`` without :data:`CONTROL_CHARS`; unless ``multiline``, tabs and newlines become one
    space each run too."""
    text = CONTROL_CHARS.sub("", text)
    return text if multiline else _LINE_BREAKS.sub(" ", text)


def escape_controls(text: str) -> str:
    r"""``text`` with each of :data:`CONTROL_CHARS` written as a ``\u001b``-style escape (valid
    inside a JSON string too); tabs and newlines stay."""
    return CONTROL_CHARS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def clean_fields(article: Article) -> Article:
    """``article`` (changed in place) with control characters gone from every stored text field:
    title, source_name, author, issuer … keep one line, body and attachment texts keep their
    line breaks and tabs."""
    # a search per field first: nearly all text has none, and is then left as it is
    for name in _TEXT_FIELDS:
        value = getattr(article, name)
        multiline = name in _MULTILINE_FIELDS
        if (CONTROL_CHARS if multiline else _ANY_CONTROL).search(value):
            setattr(article, name, strip_controls(value, multiline=multiline))
    for attachment in article.attachments:
        attachment.name = strip_controls(attachment.name)
        attachment.text = strip_controls(attachment.text, multiline=True)
    return article
