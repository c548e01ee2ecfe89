"""One notion of "the same real-world event" (crawler.events.keys), without a database."""

from __future__ import annotations

from datetime import date

from crawler.events.keys import event_key, same_event
from crawler.events.model import Event

JULY = date(2025, 7, 2)


def signing(**kw: object) -> Event:
    values: dict[str, object] = {"type": "signing", "subtype": "contract", "region": "330100"}
    values.update(kw)
    return Event(**values)  # type: ignore[arg-type]


def test_figures_within_half_a_percent_are_one_event() -> None:
    assert same_event(signing(amount=772.67e8, amount_cny=772.67e8), signing(amount=773e8, amount_cny=773e8))
    assert not same_event(signing(amount=772e8), signing(amount=780e8))


def test_the_yuan_amount_is_compared_when_known() -> None:
    # 1 亿美元 stated as its yuan value by one report and in dollars by the other
    assert same_event(signing(amount=1e8, currency="USD", amount_cny=7.2e8), signing(amount=7.2e8, amount_cny=7.2e8))


def test_a_figure_stated_by_one_report_only_splits_them() -> None:
    assert not same_event(signing(amount=5e8, project_count=12), signing(amount=5e8))
    assert same_event(signing(project_count=12, growth_pct=8.5), signing(project_count=12, growth_pct=8.5))


def test_type_and_subtype_must_agree() -> None:
    assert not same_event(signing(amount=5e8), signing(amount=5e8, subtype="framework"))
    assert not same_event(signing(amount=5e8), signing(type="opening", amount=5e8))


def test_without_figures_parties_decide_folded_as_the_key_folds_them() -> None:
    a = signing(parties=["富乐德·长飞半导体", "ＡＢＣ 公司"])
    b = signing(parties=["abc公司", "富乐德长飞半导体"], region="360000")
    assert same_event(a, b)
    # the key folds the parties the same way: only the region sets these two keys apart
    assert event_key(a, JULY).split("|")[3] == event_key(b, JULY).split("|")[3]
    assert not same_event(a, signing(parties=["富乐德长飞半导体"]))


def test_without_figures_or_parties_the_evidence_decides() -> None:
    assert same_event(signing(evidence="签约仪式在杭州举行。"), signing(evidence="签约仪式 在杭州举行"))
    assert not same_event(signing(evidence="签约仪式在杭州举行"), signing(evidence="开工仪式在杭州举行"))


def test_a_stored_row_compares_like_a_detected_event() -> None:
    from storage.models import EventRow  # a row object, never added to a session

    row = EventRow(type="signing", subtype="contract", amount=None, amount_cny=None, project_count=None,
                   growth_pct=None, parties=["富乐德·长飞半导体"], evidence="")
    assert same_event(row, signing(parties=["富乐德长飞半导体"]))
