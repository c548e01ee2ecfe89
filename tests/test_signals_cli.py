"""`radar signals` and the signal_rules setting: a user's own watch-words reach the detector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from crawler.cli import main
from crawler.config.sources import parse_config
from crawler.errors import ConfigError

TEXT = "某某产业园今天揭牌运营，首批入驻企业20家。"
RULE = """
rules:
  - id: user.unveiling
    type: opening
    subtype: business
    triggers: ['揭牌运营']
    confidence: 0.6
"""


def _run(args: list[str], stdin: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, input=stdin, env={"RADAR_CONFIG": "", **(env or {})})
    return result.exit_code, result.output


def test_rules_option_and_setting_add_a_watch_word(tmp_path: Path) -> None:
    rules = tmp_path / "mine.yaml"
    rules.write_text(RULE, encoding="utf-8")
    code, out = _run(["signals", "-"], TEXT)
    assert code == 0 and "user.unveiling" not in out
    code, out = _run(["signals", "--rules", str(rules), "-"], TEXT)
    assert code == 0 and json.loads(out.splitlines()[0])["rule"] == "user.unveiling"
    code, out = _run(["signals", "-"], TEXT, env={"RADAR_SIGNAL_RULES": str(rules)})
    assert code == 0 and json.loads(out.splitlines()[0])["rule"] == "user.unveiling"


def test_jsonl_mode(tmp_path: Path) -> None:
    lines = "\n".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in enumerate(
        ["2021年，杭州外贸进出口总值达7369.0亿元，同比增长23.7%。", "会议强调，要稳外贸稳外资。"]))
    code, out = _run(["signals", "--jsonl", "-"], lines)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["id"] for r in records] == [0, 1]
    assert records[0]["events"][0]["amount_cny"] == pytest.approx(7369.0e8) and records[1]["events"] == []


def test_a_bad_rule_file_stops_the_config_at_load(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"rules": [{"id": "x", "type": "party", "triggers": ["开"]}]}), encoding="utf-8")
    with pytest.raises(ConfigError, match="signal_rules"):
        parse_config({"settings": {"signal_rules": str(bad)}}, env={})
