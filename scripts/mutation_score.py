"""Counts and score of a mutmut run folder (scripts/mutation.sh; docs/testing.md).

    python scripts/mutation_score.py DIR [LABEL]

Reads DIR/mutants/**/*.meta, prints the mutants checked per status and the score
(killed + timeout + segfault) / (checked - skipped), and writes the names of the mutants that were
not caught to DIR/survivors.txt (input for ``NAMES=DIR/survivors.txt scripts/mutation.sh``).
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

from mutmut.stats import status_by_exit_code

CAUGHT = ("killed", "timeout", "segfault")  # a mutant that hangs or crashes the tests is caught


def main(folder: str, label: str = "") -> None:
    root = Path(folder)
    codes = {}
    for meta in sorted((root / "mutants").rglob("*.meta")):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    status = {name: status_by_exit_code[code] for name, code in codes.items() if code is not None}
    n = collections.Counter(status.values())
    scored = sum(n.values()) - n["skipped"]
    caught = sum(n[s] for s in CAUGHT)
    survivors = sorted(name for name, s in status.items() if s not in CAUGHT and s != "skipped")
    (root / "survivors.txt").write_text("".join(f"{name}\n" for name in survivors))
    counts = ", ".join(f"{k} {v}" for k, v in sorted(n.items()))
    print(f"{label}checked {sum(n.values())} of {len(codes)} mutants: {counts}; "
          f"score {100 * caught / max(scored, 1):.1f}% ({caught}/{scored})")


if __name__ == "__main__":
    main(*sys.argv[1:])
