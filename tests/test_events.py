"""Event detector: dev-set quality floors, number parsing, rule loading, seed requirements, keys."""

from __future__ import annotations

import json
import os
import re
from datetime import date
from functools import lru_cache
from pathlib import Path

import pytest
from lxml import html as lxml_html

from crawler.events.detect import detect_events, event_key
from crawler.events.evaluate import Case, Score, load_cases, score, split_audit
from crawler.events.model import EVENT_TYPES, Event
from crawler.events.numbers import parse_amount, parse_count, parse_growth
from crawler.events.rules import SUBTYPES, RuleError, load_rules

ROOT = Path(__file__).resolve().parents[1]
DEV_DIR = ROOT / "tests" / "data" / "events"
SEEDS = ROOT / "crawler" / "replica" / "seeds"  # verbatim copies of the project's seed pages
CWCED = Path(os.environ.get("SIGNALS_CWCED_DIR", "/work/shared/pages/cwced/cleaned"))
AUDIT_CWCED = ROOT / "tests" / "data" / "cwced" / "cleaned"  # the audit set's CWCED source, in the repo

SHARED = ROOT.parent / "shared"  # fewfc-train and the gne pages, the drawn sets' sources

CASES = load_cases(DEV_DIR)
DEV_ALL, AUDIT_ALL = split_audit(CASES)
# The first dev set (seeds, cwced, synthetic) and the first audit set (cwced, seeds); the drawn sets
# (bench/draw_passages.py: fewfc-train and gne passages, labelled before the detector ran on them)
# are scored apart: their language (financial news, portal pages) is not the seeds'.
DEV = [c for c in DEV_ALL if not c.drawn]
AUDIT = [c for c in AUDIT_ALL if not c.drawn]
DEV_DRAWN = [c for c in DEV_ALL if c.drawn]
AUDIT_DRAWN = [c for c in AUDIT_ALL if c.drawn]
# the floors hold on the first draw's audit part, the set they were set on (audit_drawn2.yaml, the
# second draw's, is reported by bench/events.py on its own)
AUDIT_DRAWN_FIRST = [c for c in AUDIT_DRAWN if c.file == "audit_drawn.yaml"]

# Floors the detector reaches on the dev set (bench/events.py prints the actual figures).
# The dev set was also what the rules were written against, so these guard against regressions;
# they are not an estimate of held-out quality.
FLOORS = {
    "signing": (0.95, 0.95),
    "opening": (0.95, 0.95),
    "trade": (0.95, 0.95),
}

# What the detector reaches on the audit set (audit_*.yaml: every trigger-word sentence of the CWCED
# texts and the seeds outside the dev set, labelled blind).  It holds 124 negatives and only six
# events, all openings, so one miss is recall 0.83 and one false alarm a lost 1.0: the floors are
# the figures reached, and any slip fails.  Signing and trade have no audit positives; for them
# only the precision floor (no false alarm on the negatives) says anything.
AUDIT_FLOORS = {
    "signing": (1.0, 1.0),
    "opening": (1.0, 1.0),
    "trade": (1.0, 1.0),
}


# The drawn sets (FewFC financial news and GNE page sentences): floors at what the detector reaches,
# so a change that makes it worse fails.  They are far below the goals (precision 0.95, recall 0.90):
# company news is full of agreements that are not investment signings, and the audit set's figures are
# the estimate of held-out quality (bench/events.py prints them).
# The audit floors are the figures of the half of the first draw that stayed blind in the fourth
# round (tests/data/events/README.md), taken before that round's rules were written.
DRAWN_DEV_FLOORS = {"signing": (0.85, 0.88), "opening": (0.95, 0.9), "trade": (1.0, 1.0)}
DRAWN_AUDIT_FLOORS = {"signing": (0.65, 0.50), "opening": (0.55, 1.0), "trade": (1.0, 1.0)}


@lru_cache(maxsize=1)
def _dev_score() -> Score:
    return score(DEV, detect_events)


@lru_cache(maxsize=1)
def _audit_score() -> Score:
    return score(AUDIT, detect_events)


@lru_cache(maxsize=1)
def _drawn_scores() -> tuple[Score, Score]:
    return score(DEV_DRAWN, detect_events), score(AUDIT_DRAWN_FIRST, detect_events)


# ------------------------------------------------------------------------------ dev set
def test_dev_set_size_and_mix() -> None:
    assert len(DEV) >= 150
    real = [c for c in DEV if not c.synthetic]
    assert len(real) > 0.8 * len(DEV), "most cases are real passages"
    for etype in EVENT_TYPES:
        assert any(g.type == etype for c in DEV for g in c.events), etype
    assert sum(1 for c in DEV if not c.events) > 100, "hard negatives of every kind"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_is_well_formed_and_evidence_points_into_text(case: Case) -> None:
    for gold in case.events:
        assert gold.subtype in SUBTYPES[gold.type], (case.id, gold)
    for ev in detect_events(case.text, title=case.title, region_hint=case.region_hint):
        assert ev.type in EVENT_TYPES
        assert 0.0 <= ev.confidence <= 1.0
        assert ev.rule
        if ev.start == ev.end == 0 and ev.evidence == case.title.strip():
            continue  # an event stated only in the title
        assert case.text[ev.start:ev.end] == ev.evidence


@pytest.mark.parametrize("etype", EVENT_TYPES)
def test_dev_set_precision_and_recall_floors(etype: str) -> None:
    ts = _dev_score().types[etype]
    p_floor, r_floor = FLOORS[etype]
    errors = [e for e in _dev_score().errors if etype in e]
    assert ts.precision >= p_floor, errors
    assert ts.recall >= r_floor, errors


def test_dev_set_figures_are_exact() -> None:
    s = _dev_score()
    numbers = s.numbers
    assert numbers.total >= 30
    assert numbers.value >= 0.95, s.errors
    assert s.region.value >= 0.9, s.errors
    assert s.subtype.value >= 0.9, s.errors


# ------------------------------------------------------------------------------ audit set
def test_audit_set_is_real_blind_and_apart_from_the_dev_set() -> None:
    assert len(AUDIT) >= 130, "every trigger-word sentence of the audit sources"
    assert all(c.file.startswith("audit_") and not c.synthetic and c.source_file for c in AUDIT_ALL)
    assert not any(c.audit for c in DEV_ALL)
    dev_texts = [c.text for c in DEV_ALL]
    for case in AUDIT_ALL:
        body = case.text.split("……")[-1].strip("。；;！？!? ")  # (a kept report heading may repeat)
        assert not any(body in t or t.strip("。；;！？!? ") in body for t in dev_texts), (case.id, "in the dev set")


@pytest.mark.parametrize("etype", EVENT_TYPES)
def test_drawn_sets_precision_and_recall_floors(etype: str) -> None:
    for scored, floors in zip(_drawn_scores(), (DRAWN_DEV_FLOORS, DRAWN_AUDIT_FLOORS), strict=True):
        ts = scored.types[etype]
        p_floor, r_floor = floors[etype]
        assert ts.precision >= p_floor, (etype, ts, floors is DRAWN_AUDIT_FLOORS)
        assert ts.recall >= r_floor, (etype, ts, floors is DRAWN_AUDIT_FLOORS)


def test_drawn_sets_are_large_and_split_by_id_not_content() -> None:
    # bench/draw_passages.py puts two in three passages in the audit set by a hash of the id; the
    # fourth round moved half of the first draw (414 passages, by group hash) to drawn_dev3.yaml
    # to be read, and no fresh material with events was left to replace them
    assert len(AUDIT_DRAWN) >= 420
    assert len(DEV_DRAWN) >= 900
    for case in DEV_DRAWN + AUDIT_DRAWN:
        if case.drawn.startswith("reserve-"):
            # the second draw (--from-reserve) puts one in three in the audit set
            assert case.audit == (int(case.id.split("-")[1], 16) % 3 == 0), case.id
        elif case.drawn != "trigger-dev" and not case.moved:
            assert case.audit == (int(case.id.split("-")[1], 16) % 3 != 0), case.id
        if case.moved:
            assert not case.audit, case.id
    assert {c.drawn for c in AUDIT_DRAWN} >= {"trigger", "hard-negative", "random"}


@pytest.mark.parametrize("etype", EVENT_TYPES)
def test_audit_set_precision_and_recall_floors(etype: str) -> None:
    ts = _audit_score().types[etype]
    p_floor, r_floor = AUDIT_FLOORS[etype]
    errors = [e for e in _audit_score().errors if etype in e]
    assert ts.precision >= p_floor, errors
    assert ts.recall >= r_floor, errors


def test_audit_set_figures_are_exact() -> None:
    s = _audit_score()
    assert s.numbers.value >= 1.0, s.errors
    assert s.subtype.value >= 1.0, s.errors
    assert s.region.value >= 1.0, s.errors


@lru_cache(maxsize=1)
def _fewfc_texts() -> frozenset[str]:
    path = SHARED / "corpora" / "fewfc-train" / "train.jsonl"
    if not path.exists():
        return frozenset()
    return frozenset(json.loads(line)["content"].strip() for line in path.read_text("utf-8").splitlines())


@lru_cache(maxsize=64)
def _gne_text(name: str) -> str | None:
    page = SHARED / "pages" / "gne" / name
    if not page.exists():
        return None
    tree = lxml_html.fromstring(page.read_bytes())
    for bad in tree.xpath("//script|//style|//noscript|//template"):
        bad.drop_tree()
    return "\n".join(tree.itertext())


def _source_text(case: Case) -> str | None:
    if case.drawn:
        kind, _, ref = case.source_file.partition(":")
        if kind == "fewfc":
            return case.text if case.text in _fewfc_texts() else ("" if _fewfc_texts() else None)
        return _gne_text(ref)
    if case.audit:
        found = [d / case.source_file for d in (AUDIT_CWCED, SEEDS) if (d / case.source_file).exists()]
        return found[0].read_text(encoding="utf-8-sig") if found else None
    if case.file.startswith("seeds_"):
        number = case.file.removeprefix("seeds_").removesuffix(".yaml")
        found = sorted(SEEDS.glob(f"{number}_*.txt"))
        return found[0].read_text(encoding="utf-8") if found else None
    if case.source_file:
        path = CWCED / case.source_file
        return path.read_text(encoding="utf-8-sig") if path.exists() else None
    return None


@pytest.mark.parametrize("case", [c for c in CASES if not c.synthetic], ids=lambda c: c.id)
def test_real_cases_are_verbatim_passages(case: Case) -> None:
    source = _source_text(case)
    if source is None:
        pytest.skip("source text not available here")
    parts = case.text.split("……") if case.elided else [case.text]
    for part in parts:
        assert part in source, (case.id, part[:40])


# ------------------------------------------------------------------------------ numbers
@pytest.mark.parametrize(
    ("text", "value", "unit", "currency", "qualifier", "yuan"),
    [
        ("772.67亿元", 772.67, 1e8, "CNY", "", 77267000000.0),
        ("1.2万亿元", 1.2, 1e12, "CNY", "", 1.2e12),
        ("3000万美元", 3000, 1e4, "USD", "", None),
        ("约5亿元", 5, 1e8, "CNY", "约", 5e8),
        ("超75亿元", 75, 1e8, "CNY", "超", 7.5e9),
        ("逾10亿元", 10, 1e8, "CNY", "逾", 1e9),
        ("近3亿元", 3, 1e8, "CNY", "近", 3e8),
        ("5000多万元", 5000, 1e4, "CNY", "多", 5e7),
        ("两千万元", 2000, 1e4, "CNY", "", 2e7),
        ("４５亿元", 45, 1e8, "CNY", "", 4.5e9),
        ("总投资约4.79亿元", 4.79, 1e8, "CNY", "约", 4.79e8),
        ("一百二十亿元", 120, 1e8, "CNY", "", 1.2e10),
        ("2.5亿欧元", 2.5, 1e8, "EUR", "", None),
        ("突破7000亿元", 7000, 1e8, "CNY", "超", 7e11),
        # a range is its lower bound, qualified 约
        ("总投资10亿—15亿元", 10, 1e8, "CNY", "约", 1e9),
        ("总投资10-15亿元", 10, 1e8, "CNY", "约", 1e9),
        # no currency: only right after an investment label
        ("总投资200亿的园区项目", 200, 1e8, "CNY", "", 2e10),
    ],
)
def test_parse_amount(text: str, value: float, unit: float, currency: str, qualifier: str,
                      yuan: float | None) -> None:
    amount = parse_amount(text)
    assert amount is not None
    assert (amount.value, amount.unit, amount.currency, amount.qualifier) == (value, unit, currency, qualifier)
    assert amount.as_yuan == yuan
    assert amount.amount == pytest.approx(value * unit)


@pytest.mark.parametrize("text", ["数十亿元", "亿元以上项目", "增长15%", "100万吨", "", "人口200万", "投资50万吨级"])
def test_parse_amount_rejects_non_amounts(text: str) -> None:
    assert parse_amount(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("同比增长23.7%", 23.7),
        ("下降3.2%", -3.2),
        ("增长1倍", 100.0),
        ("增长1.5倍", 150.0),
        ("增长两成", 20.0),
        ("增长了12.1％", 12.1),
        ("比上年同期下降0.8%", -0.8),
        ("实现翻番", 100.0),
        ("翻了一番", 100.0),
        ("增长了近三成", 30.0),
        ("增长一点二倍", 120.0),
        ("下降百分之三点五", -3.5),
        ("同比增长１２．５％", 12.5),
        ("提高了3.7个百分点", None),
        ("增速创近十年最好水平", None),
    ],
)
def test_parse_growth(text: str, expected: float | None) -> None:
    assert parse_growth(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("97个项目同步启动建设", 97),
        ("签约亿元以上项目396个", 396),
        ("签约142个项目", 142),
        ("10个区级人大票决项目全面完工", 10),
        ("五个项目", 5),
        ("新签约项目总数达1,247个", 1247),
        ("一批重大项目", None),
        ("1623个城镇老旧小区改造", None),
    ],
)
def test_parse_count(text: str, expected: int | None) -> None:
    assert parse_count(text) == expected


# ------------------------------------------------------------------------------ rules
def _write(tmp_path: Path, body: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "rule_id", "key"),
    [
        ("rules:\n  - {id: bad.regex, type: opening, subtype: business, triggers: ['开业(']}\n",
         "bad.regex", "triggers"),
        ("rules:\n  - {id: bad.type, type: merger, subtype: project, triggers: ['并购']}\n", "bad.type", "type"),
        ("rules:\n  - {id: bad.sub, type: trade, subtype: project, triggers: ['出口']}\n", "bad.sub", "subtype"),
        ("rules:\n  - {id: no.trig, type: signing, subtype: project}\n", "no.trig", "triggers"),
        ("rules:\n  - {id: bad.key, type: signing, subtype: project, triggers: ['签约'], trigers: ['x']}\n",
         "bad.key", "trigers"),
        ("rules:\n  - {id: bad.ctx, type: signing, subtype: project, triggers: ['签约'], negative: ['@nope']}\n",
         "bad.ctx", "negative"),
        ("rules:\n  - {id: bad.conf, type: signing, subtype: project, triggers: ['签约'], confidence: 3}\n",
         "bad.conf", "confidence"),
        ("rules:\n  - {id: bad.fig, type: trade, subtype: total, triggers: ['外贸'], figures: near}\n",
         "bad.fig", "figures"),
        ("rules:\n  - id: signing.ceremony\n    negative_after: ['(unclosed']\n", "signing.ceremony", "negative_after"),
        ("rules:\n  - id: signing.ceremony\n    +triggers: '签约'\n", "signing.ceremony", "+triggers"),
        ("colours: {}\n", "<top>", "colours"),
        ("rules:\n  - id: signing.ceremony\n    yields: 3\n", "signing.ceremony", "yields"),
        ("periods:\n  ends: [{pattern: '^上半年', month: 13}]\n", "periods", "ends"),
        ("periods:\n  ends: [{pattern: '^(前)月', quarter_group: 2}]\n", "periods", "ends"),
        ("periods:\n  dated: '(年'\n", "periods", "dated"),
    ],
)
def test_bad_rules_raise_rule_error_naming_rule_and_key(tmp_path: Path, body: str, rule_id: str, key: str) -> None:
    with pytest.raises(RuleError) as info:
        load_rules([_write(tmp_path, body)])
    assert info.value.rule_id == rule_id
    assert info.value.key == key
    assert rule_id in str(info.value) and key in str(info.value)


def test_default_rules_load_and_are_cached() -> None:
    rules = load_rules()
    assert rules is load_rules()
    assert {r.type for r in rules.rules} == set(EVENT_TYPES)


def test_user_rule_file_adds_a_watch_word(tmp_path: Path) -> None:
    text = "某某产业园今天揭牌运营，首批入驻企业20家。"
    assert detect_events(text) == []
    mine = _write(tmp_path, """
rules:
  - id: user.unveiling
    type: opening
    subtype: business
    triggers: ['揭牌运营']
    negative_before: ['@plan']
    confidence: 0.6
""")
    events = detect_events(text, rules=load_rules([mine]))
    assert [(e.type, e.subtype, e.rule) for e in events] == [("opening", "business", "user.unveiling")]


def test_user_rule_file_extends_and_disables_default_rules(tmp_path: Path) -> None:
    text = "年产5万吨的新材料项目今日点火试产。"
    assert detect_events(text) == []
    mine = _write(tmp_path, """
rules:
  - id: opening.production
    +triggers: ['点火试产']
disable: [trade.export]
contexts:
  +plan: ['拟定']
""")
    rules = load_rules([mine])
    assert [e.subtype for e in detect_events(text, rules=rules)] == ["production"]
    assert detect_events("全市外贸出口超75亿元。", rules=rules) == []
    assert detect_events("全市外贸出口超75亿元。")[0].subtype == "export"


# ------------------------------------------------------------------------------ seed requirements
def _seed(prefix: str) -> str:
    return next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")


def _item(title_start: str) -> tuple[str, str]:
    """A news item of seed 003 (a listing page): its title line and its body line."""
    lines = [line.strip() for line in _seed("003").splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.lstrip("• ").startswith(title_start):
            return line.lstrip("• ").strip(), lines[i + 1]
    raise AssertionError(title_start)


def _one(events: list[Event], etype: str, **fields: object) -> Event:
    found = [e for e in events if e.type == etype and all(getattr(e, k) == v for k, v in fields.items())]
    assert found, (etype, fields, [(e.type, e.subtype, e.amount, e.project_count, e.region) for e in events])
    return found[0]


def test_seed_nanning_groundbreaking() -> None:
    title, body = _item("南宁市集中开工")
    ev = _one(detect_events(body, title=title), "opening", project_count=97)
    assert ev.subtype == "groundbreaking"
    assert ev.amount_cny == 772.67e8  # exact: decimal arithmetic
    assert ev.amount_text == "772.67亿元"
    assert ev.region == "广西壮族自治区南宁市"
    assert ev.period == "2024年"
    assert body[ev.start:ev.end] == ev.evidence


def test_seed_huanggang_signing() -> None:
    title, body = _item("富乐德·长飞半导体项目落户黄冈")
    events = detect_events(body, title=title)
    ev = _one(events, "signing")
    assert ev.region == "湖北省黄冈市"
    assert "富乐德·长飞半导体" in ev.parties
    assert len([e for e in events if e.type == "signing"]) == 1, "follow-up mentions are the same signing"


def test_seed_hangzhou_trade() -> None:
    title, body = _item("杭州进出口规模突破7000亿元")
    events = detect_events(body, title=title)
    trade = [e for e in events if e.type == "trade"]
    assert len(trade) == 1, "export and import break the total down"
    ev = trade[0]
    assert (ev.subtype, ev.amount_cny, ev.growth_pct) == ("total", 7369.0e8, 23.7)
    assert (ev.region, ev.period) == ("浙江省杭州市", "2021年")


def test_seed_fujian_trade() -> None:
    title, body = _item("一季度福建省外贸进出口")
    trade = [e for e in detect_events(body, title=title) if e.type == "trade"]
    assert len(trade) == 1
    ev = trade[0]
    assert (ev.subtype, ev.amount_cny, ev.growth_pct) == ("total", 4330.8e8, 12.1)
    assert (ev.region, ev.period) == ("福建省", "一季度")  # not 福州 (福州海关 is the source)


def test_seed_qujing_groundbreaking_takes_its_amount_from_the_next_sentence() -> None:
    title, body = _item("曲靖举行重点项目集中开工仪式")
    events = [e for e in detect_events(body, title=title) if e.type == "opening"]
    assert len(events) == 1
    assert events[0].amount_cny == pytest.approx(133e8)
    assert events[0].region == "云南省曲靖市麒麟区"


def test_seed_northern_rare_earth_profit_flags_nothing() -> None:
    title, body = _item("北方稀土一季度净利润倍增")
    assert detect_events(body, title=title) == []


def test_seed_ezhou_report_aggregates() -> None:
    text = _seed("003")
    events = detect_events(text)
    sign = _one(events, "signing", project_count=396)
    assert sign.subtype == "aggregate"
    assert sign.region == "湖北省鄂州市"
    opening = _one(events, "opening", project_count=479)
    assert opening.subtype == "groundbreaking"


def test_seed_report_plan_sections_state_no_events() -> None:
    text = _seed("003")
    plans = [("二、今后五年重点工作", "2022年长沙市政府工作报告"),
             ("二、未来五年的发展目标", "2022年吉林省政府工作报告"),
             ("二、2022年工作安排", "南宁市集中开工")]
    events = detect_events(text)
    for start_marker, end_marker in plans:
        start = text.index(start_marker)
        end = text.rfind("•", start, text.index(end_marker, start))  # the next item's bullet
        inside = [e.evidence[:30] for e in events if start <= e.start < end]
        assert inside == [], start_marker


def test_seed_qingshanhu_signing_statistics_and_exports() -> None:
    text = _seed("004")
    events = detect_events(text, region_hint="江西省南昌市青山湖区")
    sign = _one(events, "signing", project_count=54)
    assert (sign.subtype, sign.amount_cny) == ("aggregate", 207.5e8)
    export = _one(events, "trade", subtype="export")
    assert (export.amount_cny, export.qualifier, export.amount_text) == (75e8, "超", "超75亿元")
    assert export.region == "江西省南昌市青山湖区"
    assert not [e for e in events if "开工率" in e.evidence]


# ------------------------------------------------------------------------------ behaviour
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # written for these tests: common shapes the seeds lack
        ("某某商业综合体今天正式开业。", [("opening", "business")]),
        ("中山生命科学园于去年9月26日在马鞍岛正式开园。", [("opening", "business")]),
        ("某新能源电池项目举行奠基仪式，项目总投资50亿元。", [("opening", "groundbreaking")]),
        ("一期工程已于上月建成并试生产。", [("opening", "production")]),
        ("该项目总投资3000万美元，已于近日竣工投产。", [("opening", "production")]),
        ("会上，市政府与某某科技有限公司签署战略合作框架协议。", [("signing", "agreement")]),
        ("举行招商引资项目集中签约仪式，签约项目20个，总投资150亿元。", [("signing", "aggregate")]),
        ("今年1至4月，我市实现外贸进出口总值300.5亿元，同比增长10.2%。", [("trade", "total")]),
        ("一季度，全省外贸出口增长12.5%，进口下降3.1%。", [("trade", "export"), ("trade", "import")]),
        ("项目建成投产后可实现年产值10亿元。", []),
        ("项目签约仪式将于下月举行。", []),
        ("某超市即将开业。", []),
        ("2022年全市进出口总额目标为500亿元。", []),
        ("进出口相抵，贸易顺差2960亿元。", [("trade", "balance")]),
        ("紧盯合同履约率、资金到位率、项目开工率、投产达产率。", []),
        ("某大桥建成通车。", []),
        # verb-first 建成 + a facility reports a completion; a count after 建成 is a stock statistic
        ("去年，该县建成县人民医院新院区，新增床位800张。", [("opening", "completion")]),
        ("2023年，公司建成年产10万吨锂电池材料生产基地。", [("opening", "completion")]),
        ("建成樊口污水处理厂、城东水厂。", [("opening", "completion")]),
        ("该区已建成5G基站2000余个。", []),
        ("建成10条生产线。", []),
        ("全市建成区面积达120平方公里。", []),
        ("到2025年，建成国家级先进制造业基地。", []),
        ("把长沙建成国际文化名城。", []),
        ("努力建成现代化物流中心。", []),
        ("着力建成全国重要的先进制造业基地。", []),
        ("建成的产业园已入驻企业30家。", []),
        ("计划年内建成污水处理厂。", []),
        ("建成国家级现代农业示范基地。", []),  # an accreditation, not a building
        ("筹建成立市应急指挥中心。", []),  # 筹建 + 成立, not 建成
        # 建成运行 = 建成运营, but not of a system or an institution
        ("市民服务中心建成运行。", [("opening", "business")]),
        ("城市应急监测体系建成运行。", []),
        # 完成…项目N个 counts projects finished; administrative steps and deadlines are not
        ("全年完成重点项目120个。", [("opening", "completion")]),
        ("完成投资项目备案50个。", []),
        ("年内完成项目30个。", []),
    ],
)
def test_language_coverage(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(e.type, e.subtype) for e in detect_events(text)] == expected


def test_completed_project_count_is_the_figure() -> None:
    ev = detect_events("全年完成重点项目120个，完成投资350亿元。")[0]
    assert (ev.subtype, ev.project_count, ev.amount) == ("completion", 120, None)


def test_lone_division_suffix_is_not_a_place() -> None:
    """cpca's table has grouping rows (县 of 重庆市); a lone 县 in a slogan is no place."""
    ev = detect_events("完成“一县一特”项目182个。", region_hint="湖南省长沙市")[0]
    assert ev.region == "湖南省长沙市"


def test_usd_amount_is_not_converted() -> None:
    ev = detect_events("该项目总投资3000万美元，已于近日竣工投产。")[0]
    assert (ev.amount, ev.currency, ev.amount_cny) == (3e7, "USD", None)


def test_region_hint_is_the_fallback() -> None:
    ev = detect_events("全省春季项目集中开工较往年提前近一个月。", region_hint="吉林省")[0]
    assert ev.region == "吉林省"
    ev = detect_events("敦化抽水蓄能电站并网发电。", region_hint="吉林省")[0]
    assert ev.region == "吉林省延边朝鲜族自治州敦化市"


def test_detection_is_pure_and_deterministic() -> None:
    text = _seed("004")
    first = detect_events(text)
    second = detect_events(text)
    assert [e.to_dict() for e in first] == [e.to_dict() for e in second]
    assert text == _seed("004")


def test_full_width_digits_keep_offsets() -> None:
    text = "某县今年外贸出口４５亿元，同比增长１２％。"
    ev = detect_events(text)[0]
    assert (ev.amount_cny, ev.growth_pct) == (45e8, 12.0)
    assert text[ev.start:ev.end] == ev.evidence


# ------------------------------------------------------------------------------ event keys
def _repost_pair() -> tuple[Event, Event]:
    title, body = _item("南宁市集中开工")
    a = detect_events(body, title=title)[0]
    b = detect_events("转载：" + body)[0]  # a repost with a prefix and no title
    return a, b


def test_event_key_is_shared_by_reposts_in_the_same_month() -> None:
    a, b = _repost_pair()
    assert event_key(a, date(2024, 3, 2)) == event_key(b, date(2024, 3, 29))
    assert event_key(a, date(2024, 3, 2)) != event_key(b, date(2024, 5, 2))


def test_event_key_rounds_amounts_and_separates_events() -> None:
    base = Event(type="signing", subtype="project", amount=77267000000.0, amount_cny=77267000000.0,
                 currency="CNY", region="湖北省黄冈市", parties=["富乐德·长飞半导体"])
    near = Event(type="signing", subtype="project", amount=77300000000.0, amount_cny=77300000000.0,
                 currency="CNY", region="湖北省黄冈市", parties=["富乐德长飞半导体"])
    other = Event(type="signing", subtype="project", amount=5e8, currency="CNY", region="湖北省黄冈市")
    day = date(2023, 6, 1)
    assert event_key(base, day) == event_key(near, day)
    assert event_key(base, day) != event_key(other, day)
    assert len(event_key(base, day)) <= 300


def test_trade_event_key_follows_the_stated_period() -> None:
    ev = Event(type="trade", subtype="total", amount=7369e8, currency="CNY", growth_pct=23.7,
               region="浙江省杭州市", period="2021年")
    assert event_key(ev, date(2022, 1, 20)) == event_key(ev, date(2022, 3, 5))
    q1 = Event(type="trade", subtype="total", amount=4330.8e8, currency="CNY", region="福建省", period="一季度")
    assert "2024" in event_key(q1, date(2024, 4, 20))
    assert event_key(q1, date(2024, 4, 20)) != event_key(q1, date(2025, 4, 20))


def test_package_exports_the_detector() -> None:
    import crawler.events

    text = "2023年，全区共举办招商推介会4场，新引进亿元以上项目54个，总投资额达207.5亿元。"
    events = crawler.events.detect_events(text)
    assert [e.to_dict() for e in events] == [e.to_dict() for e in detect_events(text)]
    assert re.search(r"签约|引进", events[0].evidence)
