#!/usr/bin/env bash
# Mutation score of one estimators subpackage against that subpackage's own tests (docs/testing.md).
#
#   scripts/mutation.sh MODULE [COMMIT]      MODULE: linear | bayes | classify; COMMIT: default HEAD
#
# The committed tree at COMMIT is exported to a scratch folder ($MUTATION_DIR, default /tmp/icl-mutation),
# so edits in the working tree do not leak into the measurement and mutmut's mutants/ folder stays out of
# the checkout. The shared settings are [tool.mutmut] in pyproject.toml; this script adds the files to
# mutate (MUTATE, overridable) and the module's tests. One worker, nice -n 15, one BLAS thread, the
# derandomized hypothesis profile (HYPOTHESIS_PROFILE=ci).
# Prints the counts and the score = (killed + timeout + segfault) / (total - skipped).
set -euo pipefail

module=${1:?usage: scripts/mutation.sh linear|bayes|classify [COMMIT]}
commit=${2:-HEAD}
root=$(git rev-parse --show-toplevel)
python=${PYTHON:-$root/.venv/bin/python}
case $module in
  linear)   tests='"tests/estimators/test_linear.py"'
            default_mutate='"estimators/linear/*"' ;;
  bayes)    tests='"tests/estimators/test_bayes.py", "tests/estimators/test_bayes_predictive.py"'
            default_mutate='"estimators/bayes/*"' ;;
  classify) tests='"tests/estimators/test_classify.py"'
            default_mutate='"estimators/classify/*"' ;;
  *) echo "unknown module: $module (linear | bayes | classify)" >&2; exit 2 ;;
esac
# Extra test files named tests/estimators/test_mutants_<module>.py belong to the module's tests.
sha=$(git -C "$root" rev-parse "$commit")
if git -C "$root" cat-file -e "$sha:tests/estimators/test_mutants_$module.py" 2>/dev/null; then
  tests="$tests, \"tests/estimators/test_mutants_$module.py\""
fi
mutate=${MUTATE:-$default_mutate}

work=${MUTATION_DIR:-/tmp/icl-mutation}/$module-${sha:0:10}
rm -rf "$work" && mkdir -p "$work"
git -C "$root" archive "$sha" estimators tests pyproject.toml | tar -x -C "$work"
# This module's files and tests go into the scratch copy's [tool.mutmut] table.
"$python" - "$work/pyproject.toml" "[$mutate]" "[$tests]" <<'PY'
import json, re, sys, tomllib
path, mutate, tests = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
text = open(path).read()
table = tomllib.loads(text).get("tool", {}).get("mutmut", {})
table.update(only_mutate=mutate, pytest_add_cli_args_test_selection=tests)
text = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", text)
text += "\n[tool.mutmut]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
open(path, "w").write(text)
PY

cd "$work"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 HYPOTHESIS_PROFILE=ci
echo "commit $sha, module $module, mutating [$mutate], tests [$tests]"
start=$(date +%s)
nice -n 15 "$python" -m mutmut run --max-children 1 > run.log 2>&1 || { tail -40 run.log; exit 1; }
nice -n 15 "$python" -m mutmut export-cicd-stats > /dev/null
nice -n 15 "$python" -m mutmut results --all true > results.txt || true
"$python" - "$module" "$sha" "$(( $(date +%s) - start ))" <<'PY'
import json, sys
s = json.load(open("mutants/mutmut-cicd-stats.json"))
detected = s["killed"] + s["timeout"] + s["segfault"]  # a mutant that hangs or crashes the tests is caught
scored = s["total"] - s["skipped"]  # survivors, mutants no test reaches and suspicious ones count against
print(f"{sys.argv[1]} @ {sys.argv[2][:10]}: total {s['total']}, killed {s['killed']}, survived {s['survived']}, "
      f"timeout {s['timeout']}, segfault {s['segfault']}, skipped {s['skipped']}, no tests {s['no_tests']}, "
      f"suspicious {s['suspicious']}; score {100 * detected / max(scored, 1):.1f}% ({sys.argv[3]} s)")
PY
echo "survivors: grep survived $work/results.txt; show one: (cd $work && $python -m mutmut show NAME)"
