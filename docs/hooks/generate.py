"""Pages the documentation site generates at build time (an mkdocs hook, see ``mkdocs.yml``).

* ``gallery.md``: every figure module of ``figures/`` (found by reading the files, so a figure
  that is being edited cannot break the build) with its commands, and, where they are
  committed, its ``docs/NAME.png`` and the claims of ``docs/NAME.json`` (value, 95% interval,
  threshold, verdict, controls). A missing or unreadable JSON is reported on the page, not
  an error: the gallery lists what exists.
* ``cli.md``: ``--help`` of ``icl`` and of every subcommand, from the argparse parsers that
  ``icl_toolkit.cli.build_parser`` builds (the reference cannot drift from the code).
* ``examples/NAME.md``: each ``examples/NAME.py`` (jupytext percent format) as a page, its
  ``# %% [markdown]`` cells as text and its code cells as code.
* ``assets/mathjax/``: MathJax 3 from the ``django-static-mathjax`` package (a data package;
  Django is not needed), so the pages load no script from a CDN.

What does not live here: the hand-written pages (``docs/*.md``) and the rewriting of the
docstrings' reStructuredText for the API pages (``docs/hooks/rst_roles.py``).
"""

from __future__ import annotations

import ast
import json
import logging
import math
import os
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.generate")

ROOT = Path(__file__).resolve().parents[2]

_VERDICT = {"holds": "✔ holds", "fails": "✘ fails", "undetermined": "? undetermined",
            "uninformative": "○ uninformative"}


# ----------------------------------------------------------------------------- mkdocs events


def on_files(files, config):
    """Add the generated pages and the MathJax files to the site's files (mkdocs event)."""
    from mkdocs.structure.files import File  # imported here: the page generators work without mkdocs

    docs_dir = Path(config["docs_dir"])
    pages = {
        "gallery.md": gallery_markdown(ROOT / "figures", docs_dir),
        "cli.md": cli_markdown(),
    }
    for path in sorted((ROOT / "examples").glob("*.py")):
        pages[f"examples/{path.stem}.md"] = example_markdown(path)
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    for rel, src in mathjax_files():
        files.append(File.generated(config, f"assets/mathjax/{rel}", abs_src_path=str(src)))
    return files


# ----------------------------------------------------------------------------- gallery


def _constants(path: Path) -> dict[str, str]:
    """The module-level string constants of a figure module (NAME, DESCRIPTION, ...), read, not imported."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError) as err:
        log.info("gallery: cannot read %s: %s", path, err)
        return {}
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                out[node.targets[0].id] = node.value.value
    return out


def figure_modules(figures_dir: Path) -> dict[str, dict[str, str]]:
    """``{NAME: {"module", "DESCRIPTION", "PAPER_GPU_TIME"}}`` for every public module that sets NAME."""
    found = {}
    for path in sorted(figures_dir.glob("*.py")):
        if path.name.startswith("_"):
            continue
        consts = _constants(path)
        if "NAME" in consts:
            found[consts["NAME"]] = {"module": f"figures.{path.stem}", **consts}
    return found


def _num(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return "n/a"
    return "n/a" if not math.isfinite(v) else f"{v:.3g}"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_table(doc: dict) -> list[str]:
    """Markdown rows for the claims of one ``NAME.json``; tolerant of missing fields."""
    claims = doc.get("claims") or []
    if not isinstance(claims, list) or not claims:
        return ["No claims recorded in this JSON."]
    rows = ["| claim | value [95% interval] | threshold | verdict | controls (value: verdict) |",
            "|---|---|---|---|---|"]
    for c in claims:
        if not isinstance(c, dict):
            continue
        interval = c.get("interval") or [None, None]
        lo, hi = (list(interval) + [None, None])[:2]
        verdict = _VERDICT.get(c.get("verdict"), str(c.get("verdict", "n/a")))
        if c.get("kind") == "check":
            verdict += " (code check)"
        if (c.get("scale") or {}).get("expected_at") == "paper":
            verdict += " (paper scale)"
        threshold = f"{c.get('direction', '')} {_num(c.get('threshold'))}".strip()
        controls = "; ".join(f"{k.get('name', '?')} {_num(k.get('value'))}: {k.get('verdict', '?')}"
                             for k in c.get("controls") or [] if isinstance(k, dict))
        statement = c.get("statement") or c.get("name") or "?"
        rows.append(f"| {_cell(statement)} | {_num(c.get('value'))} [{_num(lo)}, {_num(hi)}] | {threshold} | "
                    f"{verdict} | {_cell(controls) or 'none'} |")
    return rows


def _read_json(path: Path):
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return None, f"`{path.name}` could not be read ({type(err).__name__}: {err})."
    if not isinstance(doc, dict):
        return None, f"`{path.name}` is not a JSON object."
    return doc, ""


def _result_block(stem: str, docs_dir: Path) -> list[str]:
    """The image and claims committed as ``docs/<stem>.png`` / ``docs/<stem>.json`` (what exists)."""
    png, js = docs_dir / f"{stem}.png", docs_dir / f"{stem}.json"
    out: list[str] = []
    if js.is_file():
        doc, problem = _read_json(js)
        if doc is None:
            out += [problem, ""]
        else:
            prov = doc.get("provenance") or {}
            bits = [f"preset `{doc.get('preset', '?')}`"]
            if prov.get("computed_at"):
                bits.append(f"computed {prov['computed_at']}")
            if isinstance(prov.get("wall_time_s"), (int, float)):
                bits.append(f"compute wall time {prov['wall_time_s']:.0f} s")
            if prov.get("git_commit"):
                bits.append(f"commit `{str(prov['git_commit'])[:10]}`")
            out += [f"Claims from [`{js.name}`]({js.name}) ({', '.join(bits)}):", "", *claims_table(doc), ""]
    if png.is_file():
        out += [f"![{stem}]({png.name})", ""]
    if not out:
        out = ["No result committed in `docs/` yet: build it with the command above and `--publish`.", ""]
    return out


def gallery_markdown(figures_dir: Path, docs_dir: Path) -> str:
    """The gallery page: one section per figure module, plus committed results that match none."""
    figs = figure_modules(figures_dir)
    stems = sorted({p.stem for p in docs_dir.glob("*.png")} | {p.stem for p in docs_dir.glob("*.json")})
    lines = [
        "# Figure gallery",
        "",
        "Generated at build time from the figure modules in `figures/` and the results committed in",
        "`docs/` (`NAME.png`, and `NAME.json` with every claim: measured value, 95% interval, threshold,",
        "verdict and the controls that must fail it; see [Design](design.md#claims)). A claim *holds*",
        "only if its interval clears the threshold and every control fails. Quick presets run on a CPU;",
        "at that scale several paper claims do not hold, and the tables say so.",
        "",
        "Rebuild one figure: `icl figure NAME --preset quick` (CPU) or `--preset paper` (GPU); every",
        "figure: `icl figure all --preset quick`; list them: `icl figure --list`. Add `--publish` to copy",
        "the result into `docs/`. Outputs go to `figures/out/NAME.{png,pdf,json}`.",
        "",
        "| figure | what | command |",
        "|---|---|---|",
    ]
    for name, info in figs.items():
        lines.append(f"| [`{name}`](#{name}) | {_cell(info.get('DESCRIPTION', ''))} | "
                     f"`icl figure {name} --preset quick` |")
    lines.append("")
    used: set[str] = set()
    for name, info in figs.items():
        lines += [f"## {name} {{#{name}}}", "", _cell(info.get("DESCRIPTION", "")), "",
                  "```bash", f"icl figure {name} --preset quick    # CPU", f"icl figure {name} --preset paper    # GPU",
                  "```", ""]
        if info.get("PAPER_GPU_TIME"):
            lines += [f"Paper preset: {info['PAPER_GPU_TIME']}. Module: `{info['module']}`.", ""]
        variants = [s for s in stems if s == name or s.startswith(name + "-") and s[len(name) + 1:] not in figs]
        for stem in sorted(variants, key=lambda s: (s != name, s)) or [name]:
            if stem != name:
                lines += [f"### {stem}", ""]
            lines += _result_block(stem, docs_dir)
            used.add(stem)
    orphans = [s for s in stems if s not in used and s not in figs]
    if orphans:
        lines += ["## Other committed results", ""]
        for stem in orphans:
            lines += [f"### {stem}", "", *_result_block(stem, docs_dir)]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- command line


def cli_markdown() -> str:
    """``icl --help`` and ``icl SUBCOMMAND --help`` for every subcommand, from the real parsers."""
    import argparse

    from icl_toolkit.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "82"  # argparse wraps to the terminal width: fix it to the page's
    try:
        parser = build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        lines = [
            "# Command-line reference",
            "",
            "Generated at build time from the argparse parsers of `icl_toolkit.cli` (`build_parser()`),",
            "so it always matches the installed `icl` command. `python -m figures` takes the same",
            "arguments as `icl figure`, and `python -m proofs` those of `icl proofs`. User errors end with",
            "one line `icl CMD: error: ...` and exit code 2 (1 for a run whose loss diverged);",
            "`ICL_DEBUG=1` shows the traceback instead.",
            "",
            "## icl",
            "",
            "```text",
            parser.format_help().rstrip(),
            "```",
            "",
        ]
        for name, subparser in sub.choices.items():
            lines += [f"## icl {name}", "", "```text", subparser.format_help().rstrip(), "```", ""]
        for name in ("tasks", "presets"):
            lines += [f"## Output of `icl {name}`", "", *_command_output(name), ""]
        return "\n".join(lines)
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def _command_output(name: str) -> list[str]:
    """What ``icl NAME`` prints, as a text block (a note instead if it fails: the page still builds)."""
    import contextlib
    import io

    from icl_toolkit.cli import main

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = main([name])
    except Exception as err:  # a task or preset being edited must not take the whole site down
        return [f"`icl {name}` failed while the site was built: {type(err).__name__}: {err}"]
    if code != 0:
        return [f"`icl {name}` exited with code {code} while the site was built."]
    return ["```text", out.getvalue().rstrip(), "```"]


# ----------------------------------------------------------------------------- examples


def example_markdown(path: Path) -> str:
    """A jupytext percent-format script as a page: markdown cells as text, code cells as code."""
    import jupytext

    nb = jupytext.reads(path.read_text(encoding="utf-8"), fmt="py:percent")
    rel = path.relative_to(ROOT).as_posix()
    note = ["!!! note \"Run it\"",
            f"    Source: `{rel}` (tested in CI by `tests/test_examples.py`). Run it with",
            f"    `python {rel}`, or open it as a notebook: `jupytext --to notebook {rel}` (or open the",
            "    `.py` file in JupyterLab with jupytext installed).", ""]
    out: list[str] = []
    for cell in nb.cells:
        src = cell.source.rstrip()
        if not src:
            continue
        if cell.cell_type == "markdown":
            out += [src, ""]
            if len(out) == 2 and src.startswith("# "):
                out += note
        else:
            out += ["```python", src, "```", ""]
    if not out or not out[0].startswith("# "):
        out = [f"# {path.stem}", "", *note, *out]
    return "\n".join(out)


# ----------------------------------------------------------------------------- MathJax


def mathjax_files():
    """``(relative path, absolute path)`` of the MathJax 3 files the pages need (CommonHTML output)."""
    try:
        import mathjax  # the django-static-mathjax distribution: static files only
    except ImportError as err:
        raise RuntimeError("the docs need the `docs` extra: pip install -e '.[docs]' (django-static-mathjax)") from err
    es5 = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    wanted = [es5 / "tex-chtml.js"]
    for folder in ("input/tex/extensions", "output/chtml/fonts/woff-v2", "ui", "a11y"):
        wanted += sorted(p for p in (es5 / folder).rglob("*") if p.is_file())
    missing = [p for p in wanted[:1] if not p.is_file()]
    if missing:
        raise RuntimeError(f"MathJax file missing from the installed package: {missing[0]}")
    return [(p.relative_to(es5).as_posix(), p) for p in wanted]
