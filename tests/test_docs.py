"""The documentation's code and generators: the Python blocks of the hand-written pages run, and the
build hook (``docs/hooks/generate.py``) lists what exists without failing on what does not.

The site itself is built with ``mkdocs build --strict`` by ``make docs`` (after ``make test`` in
``.ci/run``); these tests need no docs tools, except the jupytext and griffe checks, which skip
without the ``docs`` extra.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# the hand-written pages with code (docs/design.md is prose and text blocks; the extending page
# includes tested files from examples/extending instead of inline code)
PAGES = sorted(p for p in [*DOCS.glob("*.md"), *DOCS.glob("estimators/*.md"), *DOCS.glob("examples/*.md")]
               if p.name != "design.md")
_FENCE = re.compile(r"^( *)```python\n(.*?)^\1```", re.S | re.M)


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_hooks_{name}", DOCS / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _blocks():
    for page in PAGES:
        for i, match in enumerate(_FENCE.finditer(page.read_text(encoding="utf-8"))):
            code = "\n".join(line[len(match.group(1)):] for line in match.group(2).splitlines())
            if "--8<--" not in code:
                yield pytest.param(code, id=f"{page.relative_to(DOCS).as_posix()}#{i}")


@pytest.mark.parametrize("code", list(_blocks()))
def test_python_block_runs(code: str):
    exec(compile(code, "<docs>", "exec"), {"__name__": "__docs__"})


def test_pages_have_python_blocks():
    assert len(list(_blocks())) >= 8


# ----------------------------------------------------------------------------- the gallery


def _figure(folder: Path, stem: str, name: str, description: str = "a test figure") -> None:
    (folder / f"{stem}.py").write_text(f'"""Doc."""\nNAME = "{name}"\nDESCRIPTION = "{description}"\n'
                                       'PAPER_GPU_TIME = "1 h"\nPRESETS = {"tiny": {**{}}}\n')


def _claims_json(value=0.02, verdict="holds") -> str:
    claim = {"name": "gap", "statement": "|a - b| is at most 0.05", "value": value, "interval": [0.01, 0.03],
             "threshold": 0.05, "direction": "<=", "verdict": verdict, "kind": "evidence",
             "scale": {"expected_at": "quick"}, "controls": [{"name": "zero", "value": 0.9, "verdict": "fails"}]}
    return json.dumps({"name": "x", "preset": "quick", "claims": [claim],
                       "provenance": {"computed_at": "2026-01-01T00:00:00+00:00", "wall_time_s": 12.0,
                                      "git_commit": "0123456789abcdef"}})


def test_gallery_lists_what_exists(tmp_path):
    gen = _load("generate")
    figs, docs = tmp_path / "figures", tmp_path / "docs"
    figs.mkdir(), docs.mkdir()
    _figure(figs, "alpha", "alpha-fig")
    _figure(figs, "beta", "beta-fig")
    _figure(figs, "_private", "never-listed")
    (figs / "broken.py").write_text("this is not python(")
    (docs / "alpha-fig.json").write_text(_claims_json())
    (docs / "alpha-fig.png").write_bytes(b"png")
    (docs / "alpha-fig-paper.png").write_bytes(b"png")  # a variant of alpha-fig
    (docs / "orphan.json").write_text("{not json")  # matches no figure, and unreadable

    page = gen.gallery_markdown(figs, docs)
    assert "## alpha-fig {#alpha-fig}" in page and "## beta-fig {#beta-fig}" in page
    assert "never-listed" not in page
    assert "`icl figure alpha-fig --preset quick`" in page and "icl figure beta-fig --preset paper" in page
    assert "| \\|a - b\\| is at most 0.05 | 0.02 [0.01, 0.03] | <= 0.05 | ✔ holds | zero 0.9: fails |" in page
    assert "![alpha-fig](alpha-fig.png)" in page and "### alpha-fig-paper" in page
    beta = page.split("## beta-fig", 1)[1]
    assert "No result committed" in beta  # no JSON and no PNG: listed, not an error
    assert "## Other committed results" in page and "`orphan.json` could not be read" in page


def test_gallery_tolerates_partial_claims(tmp_path):
    gen = _load("generate")
    rows = gen.claims_table({"claims": [{"statement": "s", "value": None, "controls": None}, "junk"]})
    assert rows[-1].startswith("| s | n/a [n/a, n/a] |")
    assert gen.claims_table({}) == ["No claims recorded in this JSON."]


def test_gallery_of_the_repository_names_every_figure_module():
    gen = _load("generate")
    figs = gen.figure_modules(ROOT / "figures")
    assert "linear-regression" in figs
    page = gen.gallery_markdown(ROOT / "figures", DOCS)
    for name in figs:
        assert f"icl figure {name} --preset quick" in page


# ----------------------------------------------------------------------------- CLI and examples


def test_cli_reference_has_every_subcommand():
    from icl_toolkit.cli import COMMANDS

    page = _load("generate").cli_markdown()
    for name, command in COMMANDS.items():
        assert f"## icl {name}" in page
        assert f"usage: icl {name}" in page
    assert "--preset" in page and "--publish" in page
    assert "## Output of `icl presets`" in page and "linear-quick" in page


def test_example_page(tmp_path):
    pytest.importorskip("jupytext")
    script = tmp_path / "demo.py"
    script.write_text('# %% [markdown]\n# # A title\n#\n# Some $x^2$ text.\n\n# %%\nx = 1\nassert x == 1\n')
    gen = _load("generate")
    gen.ROOT = tmp_path  # the page names the script relative to the repository root
    page = gen.example_markdown(script)
    assert page.startswith("# A title\n")
    assert "python demo.py" in page and "```python\nx = 1\nassert x == 1\n```" in page


def test_rst_roles_to_markdown():
    pytest.importorskip("griffe")
    roles = _load("rst_roles")
    text = "See :func:`~estimators.linear.ridge`, :mod:`icl.tasks` and :math:`\\lambda`. A block::\n"
    assert roles.to_markdown(text) == "See `ridge`, `icl.tasks` and $\\lambda$. A block:\n"
    doc = "Intro.\n\n.. math::\n    w = X^+ y,\n    b = 0\n\nAfter."
    assert roles.to_markdown(doc) == "Intro.\n\n$$\nw = X^+ y,\nb = 0\n$$\n\nAfter."


# ----------------------------------------------------------------------------- API pages


def _static_names(init: Path) -> set[str]:
    """Names a package's ``__init__.py`` imports with ``from ... import`` (what griffe can see)."""
    import ast

    tree = ast.parse(init.read_text(encoding="utf-8"))
    return {alias.asname or alias.name for node in tree.body if isinstance(node, ast.ImportFrom) for alias in node.names}


def test_api_pages_cover_every_public_name():
    """Each topic page documents the topic with ``::: estimators.TOPIC``; a name loaded lazily (PEP 562),
    which the static reader cannot follow, must then be listed on the page by itself."""
    import estimators

    for topic, names in estimators._EXPORTS.items():
        page = (DOCS / "api" / f"{topic}.md").read_text(encoding="utf-8")
        assert f"::: estimators.{topic}\n" in page, topic
        visible = _static_names(ROOT / "estimators" / topic / "__init__.py")
        missing = [n for n in names if n not in visible and not re.search(rf"::: estimators\.\S+\.{n}\n", page)]
        assert not missing, f"docs/api/{topic}.md lacks {missing}"
