"""Where and when an event happens: the national level, scope words, reposted articles, datelines,
retrospective statements, stage, trade releases and their breakdowns, and how they are stored."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.article import Article
from crawler.events.detect import detect_events
from crawler.events.model import STAGE_OF_SUBTYPE
from crawler.ingest.prepare import events_of
from storage import queries
from storage.db import open_database, transaction
from storage.events import record_events
from storage.models import EventRow

SEEDS = Path(__file__).resolve().parents[1] / "crawler" / "replica" / "seeds"
JILIN = (SEEDS / "003_a1ffc23508ca2481.txt").read_text(encoding="utf-8")
JILIN_TITLE = "2022年吉林省政府工作报告"


def _only(text: str, **kw: object) -> tuple[str, str]:
    events = detect_events(text, **kw)  # type: ignore[arg-type]
    assert len(events) == 1, events
    return events[0].region, events[0].region_from


# ------------------------------------------------------------------------------ region
@pytest.mark.parametrize("text", [
    "据海关总署统计，前三季度我国货物贸易进出口总值32.33万亿元，同比增长5.2%。",
    "今年1-10月，全国进出口总值35.6万亿元，同比增长5%。",
    "国家统计局数据显示，一季度出口增长4.9%。",
])
def test_national_figures_are_filed_under_the_country_not_the_source(text: str) -> None:
    assert _only(text, region_hint="广东省广州市") == ("全国", "text")


def test_a_ranking_against_the_country_is_not_a_national_figure() -> None:
    assert _only("进出口总额增长17.3%，增速居全国第4位。", region_hint="吉林省") == ("吉林省", "source")


def test_a_province_wide_figure_on_a_city_source_belongs_to_the_province() -> None:
    assert _only("1-4月，全省进出口总值500亿元，同比增长5%。", region_hint="吉林省长春市") == ("吉林省", "source")
    # a city's own figure stays the city's; a ranking within the province is no scope word
    assert _only("全市进出口20亿元，增长4%。", region_hint="广东省广州市天河区") == ("广东省广州市", "source")
    assert _only("全省首个市级政府公物仓建成运行。", region_hint="湖北省鄂州市") == ("湖北省鄂州市", "source")


def test_a_dateline_city_is_not_the_place() -> None:
    region, origin = _only("新华社长春5月3日电 记者从海关获悉，一季度进出口总值500亿元，同比增长5%。")
    assert (region, origin) == ("", "")
    assert _only("新华社长春5月3日电 一季度黑龙江省进出口总值500亿元。")[0] == "黑龙江省"


def test_a_reposted_provincial_report_keeps_its_province_not_the_reposting_portal() -> None:
    # the demo: a park portal in 江西 reposts 吉林's 2022 work report
    events = detect_events(JILIN, title=JILIN_TITLE, region_hint="江西省赣州市")
    trade = [e for e in events if e.type == "trade" and ("跨境电商" in e.evidence or "17.3%" in e.evidence)]
    assert trade and all(e.region == "吉林省" for e in trade), [(e.region, e.evidence[:30]) for e in trade]
    assert not any(e.region.startswith("江西") for e in events)
    assert {e.region_from for e in trade} == {"article"}


@pytest.mark.parametrize(("text", "region"), [
    # county-level cities that became districts after cpca's table was made keep the name written
    ("宁波市奉化区签约项目12个。", "浙江省宁波市奉化区"),
    ("福州市长乐区签约项目12个。", "福建省福州市长乐区"),
    # a county-level city that still is one, and a district the table knows, are named as before
    ("慈溪市签约项目12个。", "浙江省宁波市慈溪市"),
    ("杭州市富阳区签约项目12个。", "浙江省杭州市富阳区"),
    # 区域 is no district
    ("奉化市签约项目12个，带动区域发展。", "浙江省宁波市奉化市"),
])
def test_a_district_is_named_as_the_text_writes_it(text: str, region: str) -> None:
    assert _only(text)[0] == region


def test_the_source_region_is_used_and_marked_only_when_the_text_names_no_place() -> None:
    assert _only("该电站已于近日正式投运。", region_hint="湖北省鄂州市") == ("湖北省鄂州市", "source")
    assert _only("宜春市某某项目已于近日正式投运。", region_hint="湖北省鄂州市") == ("江西省宜春市", "text")


# ------------------------------------------------------------------------------ time
def test_a_work_report_reposted_years_later_is_history() -> None:
    events = detect_events(JILIN, title=JILIN_TITLE, region_hint="吉林省", published=date(2025, 3, 1))
    jilin = [e for e in events if e.region.startswith("吉林")]
    assert len(jilin) >= 20 and all(e.retrospective for e in jilin)
    fresh = detect_events(JILIN, title=JILIN_TITLE, region_hint="吉林省", published=date(2022, 1, 25))
    assert not any(e.retrospective for e in fresh if e.region.startswith("吉林"))


@pytest.mark.parametrize(("published", "expected"), [
    (date(2022, 1, 20), False),   # the year just ended, reported in January: news
    (date(2022, 6, 20), False),
    (date(2022, 8, 1), True),     # seven months after the period ended
    (date(2025, 1, 1), True),
    (None, False),                # no date to judge against
])
def test_retrospective_follows_the_stated_period(published: date | None, expected: bool) -> None:
    text = "2021年，杭州外贸发展实现历史性跨越，进出口总值达7369.0亿元，同比增长23.7%。"
    (event,) = detect_events(text, published=published)
    assert event.retrospective is expected


def test_quarters_and_month_ranges_end_where_they_say() -> None:
    text = "2024年1-10月，全省进出口总值500亿元，同比增长5%。"
    assert not detect_events(text, published=date(2025, 4, 1))[0].retrospective
    assert detect_events(text, published=date(2025, 5, 15))[0].retrospective
    text = "2024年一季度，全省进出口总值500亿元。"
    assert detect_events(text, published=date(2024, 10, 15))[0].retrospective


@pytest.mark.parametrize(("part", "last_month"), [
    ("1-10月", 10), ("1至10月份", 10), ("一至十月", 10), ("1—10月", 10), ("前10个月", 10),
    ("前三个月", 3), ("前三季度", 9), ("三季度", 9), ("第一季度", 3), ("上半年", 6), ("十一月", 11),
    ("5月3日", 5), ("", 12),
])
def test_a_part_of_a_year_ends_at_its_last_month_in_digits_or_numerals(part: str, last_month: int) -> None:
    # retrospective means more than six months after the last month of the stated part
    text = f"2024年{part}，全省进出口总值500亿元。"
    (event,) = detect_events(text, published=date(2024 + (last_month + 6) // 12, (last_month + 6) % 12 + 1, 15))
    assert event.retrospective, part
    (event,) = detect_events(text, published=date(2024 + (last_month + 5) // 12, (last_month + 5) % 12 + 1, 15))
    assert not event.retrospective, part


@pytest.mark.parametrize(("text", "period"), [
    ("2024年一至十月，全省进出口总值500亿元。", "2024年1-10月"),
    ("前三个月，全省进出口总值500亿元。", "1-3月"),
    ("今年1—10月份，全省出口总值300亿元。", "1-10月"),
    ("第1季度，全省进出口总值500亿元。", "一季度"),
])
def test_period_strings_take_one_form(text: str, period: str) -> None:
    (event,) = detect_events(text)
    assert event.period == period


def test_a_year_said_relative_to_the_report_reads_its_part() -> None:
    # 去年上半年 in a report of 2023 ended in June 2022; a comparison (比上年) is no time of its own
    text = "2023年政府工作报告\n去年上半年，全省进出口总值500亿元。"
    assert detect_events(text, published=date(2023, 2, 1))[0].retrospective
    assert not detect_events("全省进出口总值500亿元，比上年同期增长5%。", published=date(2023, 2, 1))[0].retrospective


# ------------------------------------------------------------------------------ stage
@pytest.mark.parametrize(("text", "stage"), [
    ("会上，市政府与某某科技有限公司签署战略合作框架协议。", "signed"),
    ("某新能源电池项目举行奠基仪式，项目总投资50亿元。", "started"),
    ("一期工程已于上月建成并试生产。", "producing"),
    ("建成樊口污水处理厂、城东水厂。", "completed"),
    ("某某商业综合体今天正式开业。", "opened"),
])
def test_each_event_carries_its_stage(text: str, stage: str) -> None:
    (event,) = detect_events(text)
    assert event.stage == stage == STAGE_OF_SUBTYPE[event.subtype]


def test_trade_figures_have_no_stage() -> None:
    assert detect_events("一季度，全省外贸出口增长12.5%。")[0].stage == ""


# ------------------------------------------------------------------------------ trade releases
RELEASE = (
    "1-9月，广东省进出口5万亿元，增长3%，其中出口3万亿元，进口2万亿元，贸易顺差1万亿元。\n"
    "对美国出口100亿元，增长3%；机电产品出口50亿元。\n"
    "9月份，全省进出口6000亿元。\n"
    "民营企业进出口3万亿元。"
)


def test_a_release_is_one_event_with_its_breakdowns_as_details() -> None:
    (event,) = detect_events(RELEASE)
    assert (event.subtype, event.amount, event.growth_pct, event.region) == ("total", 5e12, 3.0, "广东省")
    parts = [(d["subtype"], d["amount"]) for d in event.details]
    assert parts == [("export", 3e12), ("import", 2e12), ("balance", 1e12), ("export", 1e10),
                     ("export", 5e9), ("total", 6e11), ("total", 3e12)]


@pytest.mark.parametrize(("text", "expected"), [
    ("1-9月，广东省实现贸易顺差1.2万亿元。", ("balance", 1.2e12)),
    ("全省外贸进出口由2020年的1000亿元增加到2021年的1300亿元。", ("total", 1.3e11)),
    ("对东盟出口100亿元，增长3%。", ("export", 1e10)),  # a partner figure with no headline is its own
    ("前三季度，吉林省进出口总值１２３４.５亿元，增长一点二倍。", ("total", 1.2345e11)),
])
def test_trade_wording_and_numbers(text: str, expected: tuple[str, float]) -> None:
    (event,) = detect_events(text)
    assert (event.subtype, event.amount) == expected


def test_chinese_numeral_rates() -> None:
    (event,) = detect_events("前三季度，全省进出口总值1234.5亿元，增长一点二倍。")
    assert event.growth_pct == 120.0
    (event,) = detect_events("今年以来，全市进出口总值300亿元，同比增长百分之五十一点八。")
    assert event.growth_pct == 51.8


@pytest.mark.parametrize(("text", "amount"), [
    # a size straight before 项目 is the project's
    ("峰会现场，某某实业公司与扬州高新区签订了3000万美元项目投资协议。", 3e7),
    # an aggregate's size is its total, not that of one project it lists
    ("推介洽谈会上，总投资28亿元的中冶总部基地等50个项目签约，计划总投资337亿元。", 3.37e10),
])
def test_signing_sizes(text: str, amount: float) -> None:
    (event,) = [e for e in detect_events(text) if e.type == "signing"]
    assert event.amount == amount


# ------------------------------------------------------------------------------ modality
@pytest.mark.parametrize("text", [
    "该项目计划总投资10亿元，为年内投产奠定基础。",
    "加快项目建设进度，为明年竣工打下坚实基础。",
    "多地项目相继开建。",
    "各地重大项目陆续开工。",
])
def test_purposes_and_vague_subjects_are_not_events(text: str) -> None:
    assert detect_events(text) == []


def test_a_vague_subject_with_a_figure_is_an_aggregate_statistic() -> None:
    (event,) = detect_events("各地集中开工项目500个，总投资800亿元。")
    assert (event.type, event.project_count) == ("opening", 500)


@pytest.mark.parametrize("text", [
    "对当年新开工的亿元以上项目给予50万元奖励。",   # a policy's condition, not a report
    "对新签约落户的重大项目，按投资额给予补贴。",
])
def test_incentive_conditions_are_not_events(text: str) -> None:
    assert detect_events(text) == []


def test_a_trade_figure_without_its_currency_and_a_negative_growth() -> None:
    (event,) = detect_events("全省进出口总值5.2万亿，同比负增长3%。")
    assert (event.amount, event.growth_pct) == (5.2e12, -3.0)


@pytest.mark.parametrize(("text", "subtype"), [
    ("某光伏电站全容量并网。", "production"),
    ("该电站已于近日正式投运。", "production"),
    ("项目于上月投入生产。", "production"),
    ("工厂已开始量产。", "production"),
])
def test_production_wording(text: str, subtype: str) -> None:
    assert [(e.type, e.subtype) for e in detect_events(text)] == [("opening", subtype)]


@pytest.mark.parametrize("text", [
    "格力与京东战略合作签约仪式在珠海举行。",                  # two companies, no project
    "市长出席签约仪式。",                                      # attendance: the signing is reported elsewhere
    "从项目正式签约到开业，仅用了64天。",                       # a duration recalled
    "腾讯动漫签约漫画作品为888部。",                            # signed-up works
])
def test_signings_that_are_not_investment_agreements(text: str) -> None:
    assert [e for e in detect_events(text) if e.type == "signing"] == []


@pytest.mark.parametrize("text", [
    "某某智能制造项目正式入驻高新区。",
    "汕头市委、市政府与上海电气风电集团签约，海上风电智能制造项目正式落户濠江。",
    "公司与宜春市人民政府签订了投资协议书，项目总投资20亿元。",
    "某某集团与市高新区管委会签署战略合作框架协议。",
])
def test_signings_with_a_public_party_or_an_investment_project(text: str) -> None:
    assert any(e.type == "signing" for e in detect_events(text))


# ------------------------------------------------------------------------------ storage
def test_stage_retrospective_origin_and_details_are_stored(db_url: str) -> None:
    article = Article(url="http://park.test/report.html", title=JILIN_TITLE, body=JILIN, region="江西省赣州市",
                      published_at=datetime(2025, 3, 1, 9, 0, tzinfo=UTC))
    events = events_of(article)
    assert events and all(e.retrospective for e in events if e.region.startswith("吉林"))
    release = Article(url="http://news.test/trade.html", title="广东外贸", body=RELEASE,
                      published_at=datetime(2025, 10, 20, 9, 0, tzinfo=UTC))
    engine, factory = open_database(db_url)
    now = datetime(2025, 10, 21, tzinfo=UTC)
    with transaction(factory) as s:
        for art in (article, release):
            stored = queries.store_article(s, art, source="park", fetched_at=now)
            record_events(s, stored.article_id, events_of(art), published=art.published_at.date(),
                                  seen_at=now)
    with factory() as s:
        rows = s.scalars(select(EventRow)).all()
        by_evidence = {r.evidence: r for r in rows}
        opening = next(r for r in rows if r.type == "opening" and r.region.startswith("吉林"))
        assert opening.stage in {"started", "producing", "completed", "opened"}
        assert opening.retrospective is True
        assert {r.region_from for r in rows} >= {"article"}
        total = next(r for r in by_evidence.values() if r.type == "trade" and r.region == "广东省")
        assert total.retrospective is False
        assert len(total.details) == 7 and total.details[0]["subtype"] == "export"
    engine.dispose()


def test_a_neighbouring_paragraph_or_a_short_county_form_does_not_place_an_event() -> None:
    # the demo's 吉林 report as extracted: the trade paragraph mentions 和龙互贸区 in passing and the
    # next paragraph opens with 长春; the province's figures stay the province's
    text = ("2022年1月24日在吉林省第十三届人民代表大会第五次会议上\n一、2021年主要工作回顾\n"
            "批复设立梅河新区。新晋升6个省级开发区,批设和龙互贸区。新增3个国家级外贸转型升级基地。"
            "加快外贸新业态发展,跨境电商进出口增长38.1%。进出口总额增长17.3%,实际利用外资增长16.7%。\n"
            "加强域内协同。充分发挥长春都市圈龙头牵引和辐射带动作用,组织长春市与各市(州)签署合作框架协议。")
    trade = [e for e in detect_events(text, title=JILIN_TITLE, region_hint="吉林省") if e.type == "trade"]
    assert [e.region for e in trade] == ["吉林省", "吉林省"]
