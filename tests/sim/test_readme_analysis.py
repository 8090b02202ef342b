"""README's "Analysing a run" snippets run as written, on the hand-made run of runfixture."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.sim import runfixture

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippets() -> list[str]:
    text = README.read_text("utf-8")
    section = text.split("## Analysing a run\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_section_has_the_four_questions_snippets():
    code = "\n".join(_snippets())
    for measure in ("concentration", "transparency", "channels_by_day", "by_province"):
        assert f"analysis.{measure}(" in code


def test_every_snippet_runs_against_a_run_directory(tmp_path):
    pytest.importorskip("pandas")
    run_dir = runfixture.write_run(tmp_path / "run")
    namespace: dict = {}
    for code in _snippets():
        exec(compile(code.replace('"out/baotou-2024"', repr(str(run_dir))), "README", "exec"),
             namespace)
    assert namespace["r"].summary["trades"] == 8
    assert len(namespace["days"]) == 3
