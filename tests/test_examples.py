"""The coursework examples (``examples/*.py``) and the docs' extension examples (``examples/extending/``) run.

Each script asserts the facts it states (fixed seeds), so running it is the test. They run
in this process with :func:`runpy.run_path`, as ``python examples/NAME.py`` would, in a
temporary working folder, with matplotlib's non-interactive backend. A script that registers a
task (``extending/new_task.py``) leaves the task registry as it found it.
"""

from __future__ import annotations

import runpy
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "examples").glob("*.py")) + sorted((ROOT / "examples" / "extending").glob("*.py"))


def test_there_are_examples():
    assert len([p for p in SCRIPTS if p.parent.name == "examples"]) >= 5
    assert {p.stem for p in SCRIPTS if p.parent.name == "extending"} == {"new_task", "new_estimator", "new_figure"}


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Agg backend, a temporary working folder, the task registry restored, figures closed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from icl.tasks import TASKS

    monkeypatch.chdir(tmp_path)
    tasks = dict(TASKS)
    yield
    TASKS.clear()
    TASKS.update(tasks)
    plt.close("all")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(ROOT / "examples").as_posix())
def test_example_runs(script: Path, isolated, capsys):
    start = time.perf_counter()
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert out.strip(), f"{script.name} printed nothing: an example shows its numbers"
    print(f"{script.name}: {time.perf_counter() - start:.1f} s")


@pytest.mark.parametrize("script", [p for p in SCRIPTS if p.parent.name == "examples"], ids=lambda p: p.stem)
def test_example_is_a_jupytext_notebook(script: Path):
    """Every coursework example opens as a notebook: percent-format cells, a title cell first."""
    text = script.read_text(encoding="utf-8")
    assert "# %% [markdown]" in text and "\n# %%\n" in text
    first_markdown = text.split("# %% [markdown]", 1)[1].lstrip("\n")
    assert first_markdown.startswith("# # "), f"{script.name}: the first markdown cell is the title"
