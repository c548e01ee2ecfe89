"""The trigger prefilter: required literals read off a pattern, and a filter that only ever rules
out texts the pattern cannot match."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.events.detect import detect_events
from crawler.events.evaluate import load_cases
from crawler.events.prefilter import TriggerFilter, any_within, required_literals
from crawler.events.rules import load_rules
from crawler.events.segment import Document

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "crawler" / "replica" / "seeds"
CWCED = ROOT / "tests" / "data" / "cwced" / "cleaned"


@pytest.mark.parametrize(("pattern", "literals"), [
    ("签约", {"签约"}),
    ("(?:集中|批量)签约(?:仪式|活动)?", {"集中签约", "批量签约"}),
    ("签(?:订|署)了?[^，。]{0,30}?协议", {"协议"}),  # either end is required: the one of fewer strings is kept
    ("(?<![召展])(?:新|全面)?(?:开工|动工)", {"开工", "动工"}),
    ("[馆园厂]建成", {"馆建成", "园建成", "厂建成"}),
    ("投产(?!业)|试生产", {"投产", "试生产"}),
    ("(?:外贸)?进出口(?:总值)?", {"进出口"}),
])
def test_required_literals_of_trigger_shapes(pattern: str, literals: set[str]) -> None:
    assert required_literals(pattern) == literals


@pytest.mark.parametrize("pattern", [
    "(?:签约)?",  # may match only the empty string
    "签约|.{2}",  # one branch needs nothing
    "(?i)sign",  # case folding: a plain literal search would miss SIGN
    "[^，。]+",
    r"(\w)\1",
])
def test_no_literals_where_none_are_certain(pattern: str) -> None:
    assert required_literals(pattern) is None
    assert TriggerFilter(pattern).spans("任何文字") is None  # no filter: every text passes
    assert any_within(None, 0, 0)


def test_every_match_of_the_real_triggers_contains_a_literal() -> None:
    """The property the detector relies on, over every sentence of the real texts and the
    labelled cases: where the trigger alternation matches, the filter found a literal inside
    that sentence; and it does rule out most sentences (else it would be worthless)."""
    rules = load_rules()
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")) + sorted(CWCED.glob("*.txt"))]
    texts += [case.text for case in load_cases(ROOT / "tests" / "data" / "events")]
    sentences = ruled_out = matched = 0
    for text in texts:
        doc = Document(text, rules)
        for sentence in doc.sentences:
            sentences += 1
            hit = any(m.end() > m.start() for m in rules.any_trigger.finditer(sentence.text))
            possible = doc.may_trigger(sentence)
            assert possible or not hit, sentence.text
            matched += hit
            ruled_out += not possible
    assert matched > 100
    assert ruled_out > 0.5 * (sentences - matched)


def test_a_user_rule_without_literals_turns_the_filter_off(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    rule = """
rules:
  - id: user.unveiling
    type: opening
    subtype: business
    triggers: ['{trigger}']
    confidence: 0.6
"""
    mine.write_text(rule.format(trigger="(?:揭牌|挂牌)?运营"), encoding="utf-8")
    assert load_rules([mine]).trigger_filter.literals is not None  # 运营 is required
    # case-insensitive: a plain search for 揭牌运营 would be wrong for a Latin trigger
    mine.write_text(rule.format(trigger="(?i:揭牌运营)"), encoding="utf-8")
    rules = load_rules([mine])
    assert rules.trigger_filter.literals is None
    text = "某某产业园今天揭牌运营，首批入驻企业20家。"
    doc = Document(text, rules)
    assert all(doc.may_trigger(s) for s in doc.sentences)
    assert [e.rule for e in detect_events(text, rules=rules)] == ["user.unveiling"]


def test_spans_find_overlapping_occurrences() -> None:
    f = TriggerFilter("签约|约定")
    spans = f.spans("签约定")
    assert spans == [(0, 2), (1, 3)]  # a non-overlapping scan would report 签约 only
    assert any_within(spans, 1, 3)  # a sentence starting at 约 still holds 约定
    assert not any_within(spans, 2, 3)


def test_a_literal_holding_another_is_not_searched_for() -> None:
    f = TriggerFilter("出口|进出口")
    assert f.literals == {"出口", "进出口"}
    assert f.spans("今年进出口总值") == [(3, 5)]  # 出口, inside 进出口: enough to let it through
