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
# Prints the counts and the score = (killed + timeout + segfault) / (checked - skipped) (scripts/mutation_score.py).
# SAMPLE=N checks a random sample of N mutants (SEED=S picks it, default 0) instead of all of them; NAMES=FILE checks the
# mutants listed in FILE (the survivors of an earlier run: DIR/survivors.txt).
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

# The ci hypothesis profile (derandomized) with fewer examples: a surviving mutant runs every test that
# reaches it, so the example count sets the cost of the run.
"$python" - "$work/tests/conftest.py" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
load = 'settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))'
assert load in text, "tests/conftest.py no longer loads its profile from HYPOTHESIS_PROFILE"
profile = 'settings.register_profile("mutation", max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])'
open(path, "w").write(text.replace(load, profile + "\n" + load))
PY

cd "$work"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 HYPOTHESIS_PROFILE=mutation
echo "commit $sha, module $module, mutating [$mutate], tests [$tests]"
start=$(date +%s)
names=()
if [ "${SAMPLE:-0}" -gt 0 ]; then
  # A fixed-seed sample of SAMPLE mutants (SEED, default 0, over the sorted names): generate them, then draw.
  nice -n 15 "$python" - "$SAMPLE" "${SEED:-0}" > sample.txt <<'PY'
import json, random, sys
from pathlib import Path
from mutmut.__main__ import copy_also_copy_files, copy_src_dir, create_mutants
from mutmut.utils.file_utils import setup_source_paths
Path("mutants").mkdir(exist_ok=True)
copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(1)
keys = sorted(k for f in Path("mutants").rglob("*.meta") for k in json.loads(f.read_text())["exit_code_by_key"])
print("\n".join(sorted(random.Random(int(sys.argv[2])).sample(keys, min(int(sys.argv[1]), len(keys))))))
PY
  mapfile -t names < <(grep -v '^ ' sample.txt | grep mutmut_)
  echo "sample of ${#names[@]} mutants (sample.txt)"
elif [ -n "${NAMES:-}" ]; then
  # Only the mutants listed in the file NAMES (one name a line), e.g. the survivors of an earlier run.
  mapfile -t names < <(grep mutmut_ "$NAMES")
  echo "${#names[@]} mutants from $NAMES"
fi
nice -n 15 "$python" -m mutmut run --max-children 1 "${names[@]}" > run.log 2>&1 || { tail -40 run.log; exit 1; }
"$python" "$root/scripts/mutation_score.py" "$work" "$module @ ${sha:0:10} ($(( $(date +%s) - start )) s): "
echo "survivors: $work/survivors.txt; show one: (cd $work && $python -m mutmut show NAME)"
