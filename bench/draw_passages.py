"""Draw unlabelled passages for the event detector's labelled sets, reproducibly.

Usage::

    python bench/draw_passages.py --out DIR [--seed 20261207] [--batches 6]

Reads ``shared/corpora/fewfc-train/train.jsonl`` (distinct texts) and the visible text of the
pages in ``shared/pages/gne/``, and draws passages three ways, each without looking at them:

* **trigger** — a passage holding one of the event vocabulary's words (签约, 签订…协议, 落户, 开工,
  投产, 投入生产, 竣工, 开业, 进出口, 出口, 顺差 …);
* **hard negative** — a passage of a family the definitions exclude: a plan or forecast word near
  a trigger, a loan/guarantee/labour contract, 开工率, 开幕, a share or asset sale agreement …;
* **random** — any passage at all;
* **reserve** (``--from-reserve``) — the reserve drawn beside the first draw, without near-copies
  of drawn passages, split one in three to the audit set: the second draw, once the trigger
  passages of the corpus were all drawn;
* **supplement** (``--supplement``) — every passage not drawn before that holds an opening or
  trade word (开工, 投产, 竣工, 开业, 营业, 进出口, 出口, 顺差 …), because the first draw held
  few openings and no trade figures.

Each passage gets a stable id, its origin, and ``audit: true`` for two in three of them (decided
by a hash of the id, not by content): those are the blind audit set, never read while changing a
rule.  The rest are the dev set.  A ``reserve`` file holds further draws, labelled only when an
audit case moves to the dev set and needs a replacement.  Labels are written by people, by the
definitions in ``tests/data/events/README.md``, before the detector runs on a passage.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from pathlib import Path

import yaml
from lxml import html as lxml_html

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

TRIGGER = re.compile(
    r"签约|签署|签订|落户|落地|入驻|开工|动工|开建|奠基|投产|试生产|投入生产|投运|竣工|完工|建成|开业|开园|"
    r"运营|进出口|出口|进口|外贸|顺差|逆差|框架协议|备忘录|合作协议|投资协议"
)
HARD_NEGATIVE = re.compile(
    r"(?:将|拟|计划|预计|力争|争取|有望|目标|确保|推动|即将|或将)[^。；]{0,20}"
    r"(?:签约|签署|开工|投产|竣工|开业|落户|出口)"
    r"|(?:借款|贷款|担保|保证|授信|融资|租赁|劳动|委托|销售|采购)[^。；]{0,6}合同"
    r"|股权转让协议|股份转让协议|收购协议|增资协议|开工率|开幕|投产后|为[^。；]{0,30}奠定基础"
    r"|高速出口|出口处|签约主播|签约艺人|家庭医生签约|落户政策|户口"
)
OPENING_OR_TRADE = re.compile(
    r"开工|动工|开建|奠基|投产|试生产|投入生产|投运|量产|竣工|完工|建成|开业|开园|营业|进出口|出口|进口|外贸|顺差|逆差"
)
SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
MAX_LEN = 300


def fewfc_texts() -> list[tuple[str, str]]:
    """(source id, text) of each distinct text of the FewFC training split."""
    seen: dict[str, str] = {}
    path = SHARED / "corpora" / "fewfc-train" / "train.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        seen.setdefault(record["content"].strip(), record["id"])
    return [(f"fewfc:{rid}", text) for text, rid in seen.items()]


def gne_sentences() -> list[tuple[str, str]]:
    """(source id, sentence) of the visible text of each saved gne page, in page order."""
    out: list[tuple[str, str]] = []
    for page in sorted((SHARED / "pages" / "gne").glob("*.html")):
        tree = lxml_html.fromstring(page.read_bytes())
        for bad in tree.xpath("//script|//style|//noscript|//template"):
            bad.drop_tree()
        seen: set[str] = set()
        for block in tree.itertext():
            for m in SENTENCE.finditer(block):
                sentence = m.group().strip()
                chinese = sum("\u4e00" <= ch <= "\u9fff" for ch in sentence)
                if chinese >= 12 and len(sentence) <= MAX_LEN and sentence not in seen:
                    seen.add(sentence)
                    out.append((f"gne:{page.name}", sentence))
    return out


def _id(origin: str, text: str) -> str:
    return hashlib.sha1(f"{origin}\n{text}".encode()).hexdigest()[:10]


def draw(seed: int) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The drawn passages and the reserve, each a list of unlabelled cases."""
    rng = random.Random(seed)
    chosen: list[dict[str, object]] = []
    reserve: list[dict[str, object]] = []
    taken: set[str] = set()

    def take(pool: list[tuple[str, str]], n: int, how: str, into: list[dict[str, object]]) -> None:
        fresh = [p for p in pool if p[1] not in taken]
        for origin, text in rng.sample(fresh, min(n, len(fresh))):
            taken.add(text)
            cid = _id(origin, text)
            into.append({"id": f"{origin.split(':')[0]}-{cid}", "origin": origin, "drawn": how,
                         "audit": int(cid, 16) % 3 != 0, "text": text})

    for name, pool, quotas in (
        ("fewfc", fewfc_texts(), (("trigger", 600), ("hard-negative", 150), ("random", 160))),
        ("gne", gne_sentences(), (("trigger", 40), ("hard-negative", 10), ("random", 150))),
    ):
        families = {"trigger": [p for p in pool if TRIGGER.search(p[1])],
                    "hard-negative": [p for p in pool if HARD_NEGATIVE.search(p[1])],
                    "random": pool}
        for how, n in quotas:
            take(families[how], n, how, chosen)
        for how, n in quotas:
            take(families[how], n // 5, how, reserve)
        del name
    return chosen, reserve


def supplement(seed: int, drawn: set[str]) -> list[dict[str, object]]:
    """Every passage outside ``drawn`` that holds an opening or trade word, in a seeded order."""
    pool = [p for p in fewfc_texts() + gne_sentences() if OPENING_OR_TRADE.search(p[1]) and p[1] not in drawn]
    random.Random(seed + 1).shuffle(pool)
    out: list[dict[str, object]] = []
    for origin, text in pool:
        cid = _id(origin, text)
        out.append({"id": f"{origin.split(':')[0]}-{cid}", "origin": origin, "drawn": "trigger-opening-trade",
                    "audit": int(cid, 16) % 3 != 0, "text": text})
    return out


def more_dev(seed: int, drawn: set[str], n: int) -> list[dict[str, object]]:
    """``n`` further trigger passages outside ``drawn``, all for the dev set (``audit: false``):
    material to write rules against without touching the audit set."""
    pool = [p for p in fewfc_texts() + gne_sentences() if TRIGGER.search(p[1]) and p[1] not in drawn]
    rng = random.Random(seed + 2)
    return [{"id": f"{origin.split(':')[0]}-{_id(origin, text)}", "origin": origin, "drawn": "trigger-dev",
             "audit": False, "text": text} for origin, text in rng.sample(pool, min(n, len(pool)))]


def _shingles(text: str, k: int = 16) -> set[str]:
    return {text[i:i + k] for i in range(max(1, len(text) - k + 1))}


def from_reserve(seed: int, n_more_dev: int) -> list[dict[str, object]]:
    """The reserve's passages as a second draw: every reserve passage that shares no 16-character
    run with a passage already drawn (FewFC repeats a text under another lead), one in three
    to the audit set by a hash of the id (``audit: true``), the rest to the dev set.

    The earlier draws are recomputed from ``seed`` (they are the labelled drawn sets), so the
    labelled files are never opened."""
    chosen, reserve = draw(seed)
    drawn = {str(c["text"]) for c in chosen}
    drawn |= {str(c["text"]) for c in supplement(seed, drawn | {str(c["text"]) for c in reserve})}
    drawn |= {str(c["text"]) for c in more_dev(seed, drawn | {str(c["text"]) for c in reserve}, n_more_dev)}
    seen = set().union(*(_shingles(t) for t in drawn))
    out: list[dict[str, object]] = []
    for case in reserve:
        text = str(case["text"])
        if _shingles(text) & seen:
            continue
        cid = str(case["id"]).split("-", 1)[1]
        out.append({**case, "drawn": f"reserve-{case['drawn']}", "audit": int(cid, 16) % 3 == 0})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--supplement", action="store_true", help="also write the opening/trade supplement")
    parser.add_argument("--more-dev", type=int, default=0, help="also draw this many dev-only passages")
    parser.add_argument("--from-reserve", action="store_true",
                        help="write the reserve, minus near-copies of drawn passages, as reserve_dev.yaml and "
                             "reserve_audit.yaml (one in three, by hash) instead")
    args = parser.parse_args(argv)
    if args.from_reserve:
        cases = from_reserve(args.seed, args.more_dev)
        args.out.mkdir(parents=True, exist_ok=True)
        for name, audit in (("reserve_dev.yaml", False), ("reserve_audit.yaml", True)):
            part = [c for c in cases if c["audit"] == audit]
            (args.out / name).write_text(
                yaml.safe_dump({"cases": part}, allow_unicode=True, sort_keys=False, width=1000), "utf-8")
        print(f"{len(cases)} reserve passages: {sum(bool(c['audit']) for c in cases)} audit")
        return 0
    chosen, reserve = draw(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.supplement:
        extra = supplement(args.seed, {str(c["text"]) for c in chosen + reserve})
        half = len(extra) // 2
        for b, part in enumerate((extra[:half], extra[half:])):
            (args.out / f"batch_{args.batches + b}.yaml").write_text(
                yaml.safe_dump({"cases": part}, allow_unicode=True, sort_keys=False, width=1000), "utf-8")
        if args.more_dev:
            seen = {str(c["text"]) for c in chosen + reserve + extra}
            dev = more_dev(args.seed, seen, args.more_dev)
            half = len(dev) // 2
            for b, part in enumerate((dev[:half], dev[half:])):
                (args.out / f"dev_{b}.yaml").write_text(
                    yaml.safe_dump({"cases": part}, allow_unicode=True, sort_keys=False, width=1000), "utf-8")
    for b in range(args.batches):
        part = chosen[b::args.batches]
        (args.out / f"batch_{b}.yaml").write_text(
            yaml.safe_dump({"cases": part}, allow_unicode=True, sort_keys=False, width=1000), "utf-8")
    (args.out / "reserve.yaml").write_text(
        yaml.safe_dump({"cases": reserve}, allow_unicode=True, sort_keys=False, width=1000), "utf-8")
    n_audit = sum(bool(c["audit"]) for c in chosen)
    print(f"{len(chosen)} passages ({n_audit} audit, {len(chosen) - n_audit} dev), {len(reserve)} in reserve")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
