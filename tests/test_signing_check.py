"""The learned signing check (crawler/events/signing_check.py), its fitting and the folds of its
cross-validation (bench/signing_model.py, bench/events.py --folds)."""

from __future__ import annotations

from pathlib import Path

from bench.events import folds, groups
from bench.signing_model import dev_cases, examples, train
from crawler.events.detect import detect_events
from crawler.events.evaluate import Case
from crawler.events.signing_check import SigningModel

DEV_DIR = Path(__file__).resolve().parent / "data" / "events"

# A signing with a public party whose sentence goes on to a share purchase: the rules veto the
# whole sentence on 收购 (a clause opening with 并 would be another act, and not vetoed); the loose
# reading proposes it and leaves the decision to the model.
VETOED = "甲公司与宜宾市人民政府签署投资协议，收购丙公司部分股份。"


def _signings(text: str, model: SigningModel | None) -> list[str]:
    return [e.rule for e in detect_events(text, signing_check=model) if e.type == "signing"]


def test_the_model_decides_the_sentences_the_loose_reading_proposes() -> None:
    assert _signings(VETOED, None) == []
    assert _signings(VETOED, SigningModel({}, bias=10.0)) == ["signing.agreement"]
    assert _signings(VETOED, SigningModel({}, bias=-10.0)) == []
    # a strict signing the model rejects is dropped; one it accepts is kept as the rules found it
    strict = "甲公司与宜宾市人民政府签署投资协议。"
    assert _signings(strict, SigningModel({}, bias=-10.0)) == []
    assert detect_events(strict, signing_check=SigningModel({}, bias=10.0)) == detect_events(strict)
    # the features carry the weight: the same bias with a weight on the public party accepts
    weighted = SigningModel({"cx:public_party": 12.0}, bias=-10.0)
    assert _signings(VETOED, weighted) == ["signing.agreement"]


def test_plans_and_service_contracts_are_never_proposed() -> None:
    accept_all = SigningModel({}, bias=10.0)
    assert _signings("甲公司拟与宜宾市人民政府签署投资协议。", accept_all) == []
    assert _signings("甲公司与宜宾市人民政府签署劳动合同。", accept_all) == []


def test_fitting_is_deterministic_and_learns_the_public_party(tmp_path: Path) -> None:
    data = examples(dev_cases(DEV_DIR))
    assert sum(label for _, label in data) >= 50
    first, second = train(data), train(data)
    assert first == second
    assert first.weights["cx:public_party"] > 1.0
    first.save(tmp_path / "m.json")
    assert SigningModel.load(tmp_path / "m.json").to_json() == first.to_json()


def _case(cid: str, text: str) -> Case:
    return Case(id=cid, text=text, events=())


def test_folds_keep_a_text_repeated_under_another_lead_together() -> None:
    body = "某某公司与某某市人民政府签署战略合作框架协议"
    cases = [_case("a", "新华社讯，" + body), _case("b", "据报道，" + body + "。"),
             _case("c", "全年进出口总值增长百分之五"), _case("d", "项目集中开工仪式举行")]
    grouped = sorted(sorted(c.id for c in g) for g in groups(cases))
    assert grouped == [["a", "b"], ["c"], ["d"]]
    dealt = folds(cases, 2, seed=1)
    assert sorted(len(f) for f in dealt) == [2, 2]
    assert any({c.id for c in f} == {"a", "b"} for f in dealt)
