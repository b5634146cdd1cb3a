"""A griffe extension for the API pages: the docstrings' reStructuredText bits as Markdown.

The docstrings are numpydoc and read well in a terminal (``help(ridge)``); a few of their
reStructuredText constructs would show up raw on the site, so before mkdocstrings parses a
docstring this extension rewrites

* roles: ``:func:`~estimators.ridge``` -> ```ridge```, ``:mod:`icl.tasks``` -> ```icl.tasks```
  (plain code, not links: a link that does not resolve would fail ``mkdocs build --strict``),
  ``:math:`x^2``` -> ``$x^2$``;
* the ``.. math::`` directive -> a ``$$ ... $$`` display block;
* a paragraph ending in ``::`` (a literal block follows) -> ``:``.

Only the text handed to the renderer changes; the source files are not touched.
"""

from __future__ import annotations

import re
import textwrap

import griffe

_ROLE = re.compile(r":(?:py:)?(func|meth|class|mod|attr|data|obj|exc|const|term|ref):`~?([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")


def _role(match: re.Match) -> str:
    target = match.group(2)
    if match.group(0).split("`", 1)[1].startswith("~"):  # ~a.b.c shows as c
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _math_blocks(text: str) -> str:
    """``.. math::`` directives (with their indented body) -> ``$$ ... $$`` blocks."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if not stripped.startswith(".. math::"):
            out.append(line)
            i += 1
            continue
        indent = len(line) - len(stripped)
        body = [stripped[len(".. math::"):].strip()]
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        math = textwrap.dedent("\n".join(b for b in body if b.strip())).strip()
        pad = " " * indent
        out += [f"{pad}$$", *(pad + m for m in math.splitlines()), f"{pad}$$", ""]
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def to_markdown(text: str) -> str:
    """The Markdown form of a numpydoc docstring's text (see the module docstring).

    >>> to_markdown("Uses :func:`~estimators.linear.ridge` and :math:`\\\\lambda`.")
    'Uses `ridge` and $\\\\lambda$.'
    >>> print(to_markdown(".. math:: w = X^+ y"))
    $$
    w = X^+ y
    $$
    <BLANKLINE>
    """
    text = _math_blocks(text)
    text = _MATH_ROLE.sub(lambda m: f"${m.group(1)}$", text)
    text = _ROLE.sub(_role, text)
    return re.sub(r"(?m)(\S)::$", r"\1:", text)


class RstToMarkdown(griffe.Extension):
    """Rewrite each docstring's text before mkdocstrings parses it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
