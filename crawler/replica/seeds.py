"""The seed pages, read from the package and cut into the stories the replica sites publish.

Every function here returns seed text only (paragraphs keep their characters; ``**`` marks bold).
Titles are taken from the seed where it has one; where a newspaper story has none, the title is a
phrase of its own text, and the few that are not are named in the comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources

from crawler.replica.resource import CST
from crawler.replica.text import blocks, is_heading, join_broken, rechunk, split_inline

SEED_FILES = {
    "epaper_2023": "000_cbfe831418c89ef9.txt",
    "dajiang": "001_1e4f86a710ed70e7.txt",
    "ganzhou": "002_624a6998ee8525cf.txt",
    "park": "003_a1ffc23508ca2481.txt",
    "qingshanhu": "004_c190e096ba3f1dd9.txt",
}
CONTINUED_FROM_1 = "（上接第1版）"
CONTINUED_ON_3 = "（下转第3版）"


@dataclass(frozen=True)
class Story:
    """One article: title and paragraphs of seed text (``**`` marks bold runs)."""

    title: str
    paragraphs: tuple[str, ...]
    subtitle: str = ""
    kicker: str = ""  # 引题, the line above a newspaper headline


@dataclass(frozen=True)
class TaskTable:
    """The 重点任务清单责任分工表 of seed 002: one header row, section rows and task rows."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # a section row has one cell; a task row has len(header)


@dataclass(frozen=True)
class GanzhouPlan:
    """Seed 002: the red-header notice, its plan text and the task table."""

    red_header: str
    doc_number: str
    title: str
    paragraphs: tuple[str, ...]
    attachment_title: str
    table: TaskTable


@dataclass(frozen=True)
class ParkItem:
    """One item of the park portal's listing (seed 003), with its paragraphs rebuilt."""

    title: str
    paragraphs: tuple[str, ...]
    date: str


@dataclass(frozen=True)
class ParkBoilerplate:
    """The portal chrome around the seed-003 listing, as the seed gives it."""

    contribute: str
    hotline_title: str
    hotline: str
    hotline_links: tuple[str, ...]
    policy_prompt: str
    policy_button: str
    modal_title: str
    modal_close: str
    modal_rules: tuple[str, ...]
    modal_agree: str
    modal_confirm: str
    modal_terms: tuple[str, ...]
    invest_title: str
    invest_hotline: str
    invest_items: tuple[str, ...]


@dataclass(frozen=True)
class NewsArticle:
    """Seed 001: a 大江网 article with its front matter."""

    story: Story
    published_at: datetime
    source: str


@dataclass(frozen=True)
class Continued:
    """A newspaper story that starts on page 1 and continues on page 3."""

    title: str
    front: tuple[str, ...]  # page 1 part, ending with （下转第3版）
    back: tuple[str, ...]  # page 3 part, starting with （上接第1版）


@dataclass(frozen=True)
class SpecialPage:
    """Seed 004: a newspaper special page, as its banner plus section stories."""

    banner: str
    stories: tuple[Story, ...] = field(default_factory=tuple)


def read_seed(key: str) -> str:
    """The text of seed ``key`` (see :data:`SEED_FILES`), from the package data."""
    return (resources.files("crawler.replica") / "seeds" / SEED_FILES[key]).read_text(encoding="utf-8")


def _bold_headings(paragraphs: list[str]) -> tuple[str, ...]:
    return tuple(f"**{p}**" if is_heading(p) else p for p in paragraphs)


# --------------------------------------------------------------------------- seed 000


@cache
def xize() -> Story:
    """《江西省乡村振兴责任制实施细则》: the lead paragraph and all chapters of seed 000."""
    parts = blocks(read_seed("epaper_2023"))
    end = parts.index(CONTINUED_FROM_1)
    title, body = parts[0], join_broken(parts[1:end])
    return Story(title, _bold_headings(body))


_TOUR_HEADLINE = "聚力铸魂育人 推动高等教育高质量发展"  # printed inside the text by the scan
_QSH_TITLE = "青山湖区数字经济“经济版图”不断扩容"  # from its last sentence: 数字时代“经济版图”不断扩容


@cache
def continued_stories() -> tuple[Continued, Continued]:
    """The two seed-000 stories continued from page 1, split back into their page 1 and 3 parts.

    The first paragraph of each goes to page 1 (with a 下转第3版 line added); page 3 keeps the
    seed's 上接第1版 line and the rest.
    """
    parts = blocks(read_seed("epaper_2023"))
    first = parts.index(CONTINUED_FROM_1)
    second = parts.index(CONTINUED_FROM_1, first + 1)
    out = []
    for title, chunk in ((_TOUR_HEADLINE, parts[first + 1 : second]), (_QSH_TITLE, parts[second + 1 :])):
        body = join_broken([p for p in chunk if p != _TOUR_HEADLINE])
        front = (body[0], CONTINUED_ON_3)
        back = (CONTINUED_FROM_1, *_bold_headings(body[1:]))
        out.append(Continued(title, front, back))
    return out[0], out[1]


# --------------------------------------------------------------------------- seed 001


@cache
def dajiang() -> NewsArticle:
    """Seed 001: title and time from the front matter, ``<p>`` paragraphs, and the 来源."""
    text = read_seed("dajiang")
    front = re.search(r"^---\n(.*?)\n---\n", text, re.S)
    assert front is not None, "seed 001 lost its front matter"
    meta = dict(line.split(": ", 1) for line in front.group(1).splitlines() if ": " in line)
    title = meta["title"].strip('"')
    published = datetime.strptime(meta["date"], "%Y-%m-%d %H:%M:%S %z").astimezone(CST)
    paragraphs: list[str] = []
    source = ""
    for attrs, inner in re.findall(r"<p([^>]*)>(.*?)</p>", text[front.end() :], re.S):
        if "em_media" in attrs:
            match = re.search(r"文章来源：(.+?)）", inner)
            source = match.group(1) if match else ""
            continue
        paragraphs.append(re.sub(r"</?strong>", "**", inner.strip()))
    return NewsArticle(Story(title, tuple(paragraphs)), published, source)


# --------------------------------------------------------------------------- seed 002


@cache
def ganzhou_plan() -> GanzhouPlan:
    """Seed 002 as a document: notice paragraphs, plan text and the task table."""
    text = read_seed("ganzhou")
    lines = text.splitlines()
    table_at = next(i for i, line in enumerate(lines) if line.startswith("序号\t"))
    prose = blocks("\n".join(lines[:table_at]))
    red_header, doc_number, raw_title = prose[0], prose[1], prose[2]
    # the scan put spaces where the printed title wrapped
    title = re.sub(r"\s*(《|》)\s*", r"\1", raw_title).replace("的 实施", "的实施")
    # the last two blocks are the attachment's own heading ("附件" / table name), kept with the table
    attachment_title = prose[-1]
    paragraphs = _bold_headings(join_broken(prose[3:-2]))
    header: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = []
    for line in lines[table_at:]:
        if "\t" not in line:
            continue
        cells = tuple(c.strip() for c in line.split("\t"))
        if cells[0] == "序号":
            header = header or cells
            continue
        if cells[0].isdigit():
            rows.append(cells + ("",) * (len(header) - len(cells)))
        else:
            rows.append((cells[0],))
    return GanzhouPlan(red_header, doc_number, title, paragraphs, attachment_title, TaskTable(header, tuple(rows)))


# --------------------------------------------------------------------------- seed 003


def _park_paragraphs(title: str, text: str) -> tuple[str, ...]:
    if text.startswith(title):
        text = text[len(title) :]
    paragraphs: list[str] = []
    # a work report opens with "<date>在…会议上" + "市长/省长 <name>" + "各位代表:"
    opening = re.match(r"(?P<meeting>[^。]{0,40}?会议上)(?P<speaker>[市省]长\w{2,3}?)(?=各位代表)", text)
    if opening:
        paragraphs += [opening.group("meeting"), opening.group("speaker")]
        text = text[opening.end() :]
    for para in split_inline(text):
        paragraphs += rechunk(para) if len(para) > 400 else [para]
    return tuple(paragraphs)


@cache
def park_items() -> tuple[ParkItem, ...]:
    """All ten items of the seed-003 listing, in listing order."""
    lines = [line.strip() for line in read_seed("park").splitlines()]
    items = []
    for i, line in enumerate(lines):
        if line.startswith("•") and i + 4 < len(lines) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", lines[i + 4]):
            title = line.lstrip("• ").strip()
            items.append(ParkItem(title, _park_paragraphs(title, lines[i + 2]), lines[i + 4]))
    return tuple(items)


@cache
def park_boilerplate() -> ParkBoilerplate:
    """The hotline boxes, the 投稿 link and the 投稿提示 modal text of seed 003."""
    lines = [line.strip().lstrip("• ").strip() for line in read_seed("park").splitlines()]
    start = lines.index("有想补充的信息?点我投稿")
    tail = [line for line in lines[start:] if line]
    at = tail.index
    modal_end = at("投资咨询热线")
    agree = at("我已阅读并同意《投稿须知》")
    return ParkBoilerplate(
        contribute=tail[0],
        hotline_title=tail[at("招商中心")],
        hotline=tail[at("招商中心") + 1],
        hotline_links=tuple(tail[at("招商中心") + 2 : at("获取园区招商政策资料")]),
        policy_prompt=tail[at("获取园区招商政策资料")],
        policy_button=tail[at("立即获取")],
        modal_title=tail[at("投稿提示")],
        modal_close=tail[at("关闭")],
        modal_rules=tuple(tail[at("关闭") + 1 : agree]),
        modal_agree=tail[agree],
        modal_confirm=tail[agree + 1],
        modal_terms=tuple(tail[agree + 2 : modal_end]),
        invest_title=tail[modal_end],
        invest_hotline=tail[modal_end + 1],
        invest_items=tuple(tail[modal_end + 2 :]),
    )


# --------------------------------------------------------------------------- seed 004


@cache
def qingshanhu() -> SpecialPage:
    """Seed 004: the banner, the headline story and one story per two-line section heading."""
    parts = join_broken(blocks(read_seed("qingshanhu")))
    banner, kicker, headline = parts[0], parts[1], parts[2]
    stories: list[Story] = []
    current = Story(headline, (), kicker=kicker)
    i = 3
    while i < len(parts):
        if i + 1 < len(parts) and is_heading(parts[i], 20) and is_heading(parts[i + 1], 20):
            stories.append(current)
            current = Story(parts[i], (), subtitle=parts[i + 1])
            i += 2
            continue
        current = Story(current.title, (*current.paragraphs, parts[i]), current.subtitle, current.kicker)
        i += 1
    stories.append(current)
    return SpecialPage(banner, tuple(stories))
