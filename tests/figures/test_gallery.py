"""The committed results (docs/*.json) are evidence-shaped, and the README's gallery is generated from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from figures import Claim
from figures._claims import VERDICTS
from figures._gallery import BEGIN, END, gallery_table, publish, update_readme

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.json"))



def _doc(name: str, claims: list[dict]) -> dict:
    return {"name": name, "preset": "quick", "claims": claims}


def _record(verdict_value: float) -> dict:
    est = {"model": (verdict_value, verdict_value - 0.01, verdict_value + 0.01), "zero": (1.0, 0.9, 1.1)}
    return Claim("gap", "gap | at most 0.05", 0.05, "<=", "model", ("zero",), estimates=est).evaluate()


def test_every_committed_claim_has_an_interval_controls_and_a_verdict():
    assert DOCS, "docs/ holds no figure results"
    for path in DOCS:
        doc = json.loads(path.read_text())
        assert (path.parent / f"{doc['name']}.png").is_file(), path
        assert doc["claims"], path
        for c in doc["claims"]:
            assert c["verdict"] in VERDICTS, (path.name, c["name"])
            assert len(c["interval"]) == 2 and len(c["controls"]) >= 1, (path.name, c["name"])
            assert all(k["verdict"] in ("holds", "fails", "undetermined") for k in c["controls"]), (path.name, c["name"])
            assert c["scale"]["expected_at"] in ("quick", "paper"), (path.name, c["name"])
            if c["verdict"] == "holds":
                assert all(k["verdict"] == "fails" for k in c["controls"]), (path.name, c["name"])


def test_the_readme_gallery_is_generated_from_the_committed_results():
    assert update_readme(ROOT / "README.md", ROOT / "docs", check=True), "run `icl figure --gallery`"


def test_gallery_table_and_update(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(_doc("a", [_record(0.01), _record(0.5)])))
    table = gallery_table(tmp_path)
    assert "| `a` | gap \\| at most 0.05 | 0.01 [0, 0.02] | <= 0.05 | ✔ holds | zero 1: fails |" in table
    assert "✘ fails" in table and "1 figures (quick presets). Evidence at this scale, 2 claims: 1 holds, 1 fails" in table
    check = dict(_record(0.01), kind="check")
    (tmp_path / "a.json").write_text(json.dumps(_doc("a", [_record(0.01), check])))
    assert "1 claims: 1 holds, 0 fails, 0 undetermined, 0 uninformative; 0 expected only at paper scale (not counted); " \
           "1 code checks: 1 pass, 0 fail." in gallery_table(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{BEGIN}\nold\n{END}\nrest\n")
    assert not update_readme(readme, tmp_path, check=True)
    update_readme(readme, tmp_path)
    assert update_readme(readme, tmp_path, check=True) and readme.read_text().endswith(f"{END}\nrest\n")
    with pytest.raises(ValueError, match="lacks the gallery markers"):
        update_readme(tmp_path / "a.json", tmp_path)


def test_publish_copies_png_and_json(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "f.png").write_bytes(b"png")
    (out / "f.json").write_text("{}")
    copied = publish("f", out, tmp_path / "docs")
    assert sorted(p.name for p in copied) == ["f.json", "f.png"] and (tmp_path / "docs" / "f.png").read_bytes() == b"png"
    with pytest.raises(FileNotFoundError, match="build the figure first"):
        publish("nosuch", out, tmp_path / "docs")
