"""The README documents every command, docs/configuration.md every setting and every source key
(sqlite-utils style)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import main
from crawler.config.settings import DEFAULTS
from crawler.config.sources import _KNOWN_KEYS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_is_documented_and_has_help(command: str) -> None:
    assert re.search(rf"`radar {command}\b", README), f"radar {command} is not in the README"
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


@pytest.mark.parametrize("setting", sorted(DEFAULTS))
def test_every_setting_is_documented(setting: str) -> None:
    assert f"RADAR_{setting.upper()}" in CONFIGURATION, setting


@pytest.mark.parametrize("key", sorted(_KNOWN_KEYS))
def test_every_source_key_is_documented(key: str) -> None:
    assert re.search(rf"^\s+(?:- )?{key}:", CONFIGURATION, re.M), f"source key {key!r} missing from the example"


def test_readme_stays_short() -> None:
    assert len(README.splitlines()) <= 250, "reference material goes to docs/"
