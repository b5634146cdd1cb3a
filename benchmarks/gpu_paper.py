"""The ``linear-paper`` preset on one CUDA GPU: training steps/s in four modes and the wall time to the paper's error.

The preset is Garg et al. (2022)'s linear-regression run: 12 layers, 8 heads, width 256, d = 20,
41 points (82 tokens), batch 64, AdamW at lr 1e-4, Garg's curriculum, 500k steps
(``icl/presets/linear-paper.toml``). This script is prepared to run once, unattended, on a CUDA
machine (an H100) in about 8 minutes, and prints the numbers the README needs. Two phases:

1. Throughput at the preset's final shapes (d = 20, 41 points). The model and the optimizer are
   the trainer's own (``icl.train.TrainState.start``: ``icl.model.GPT`` initialised from the run
   seed, AdamW with the trainer's parameter groups), the step is the trainer's (learning rate set,
   forward under the autocast context, ``icl.train.loss_fn``, the per-step finiteness check, which
   is a host sync, zero_grad, backward, AdamW step), on batches drawn by ``icl.train.batch_at`` and
   moved to the GPU beforehand (the data draw on the CPU is left out here; phase 2 includes it).
   Four modes: float32 eager; bf16 autocast eager; bf16 autocast + ``torch.compile(model)`` (what
   the trainer runs on CUDA); bf16 autocast + ``torch.compile(model, mode="reduce-overhead")``
   (CUDA graphs). Each mode builds a fresh model, runs ``--warmup`` steps (the first one, where
   compilation happens, is reported on its own), then ``--repeats`` timed runs of ``--steps``
   steps between ``torch.cuda.synchronize()`` calls; the best run gives steps/s, tokens/s,
   ms/step, the speed-up over float32 eager and the projected hours for the preset's 500k steps.
   A mode that fails (a compiler error, say) is reported and the others still run. In the CUDA
   graph mode each step starts with ``torch.compiler.cudagraph_mark_step_begin()``: torch's own
   heuristic (a new iteration at each call with no backward pending) already holds in this loop,
   so the call only makes the iteration boundary explicit.
2. Time to target: the real trainer (``icl train --preset linear-paper --device cuda``, through
   ``python -m icl_toolkit``, the module behind the ``icl`` console script) runs as a subprocess
   with a wall-clock budget (``--budget-s``) and is stopped with SIGINT when the budget is spent
   or the target is reached (it checkpoints and exits 130: expected). From its ``metrics.jsonl``,
   :func:`time_to_target` finds the first held-out evaluation where the normalised error of the
   prediction of the point with index k = 2d = 40 (the 41st point of the prompt, predicted from
   the 40 pairs before it: ``evaluate_curve``'s list is indexed by the number of in-context
   pairs) is <= ``--target`` (0.01), counting only evaluations after the curriculum has reached
   d = 20. The curriculum alone takes 30,000 steps (15 increments every 2,000 steps), so the
   target can be reached within the default budget only above 100 steps/s; otherwise the best
   error so far is printed with a plain statement that the target was not reached.

Every number measured goes to ``--json PATH`` (written after each phase, so a run cut short keeps
what it measured). Without a CUDA device the script prints ``no CUDA device: nothing measured``
and exits 2. The default budget (300 s) keeps the whole run near 8 minutes: phase 1 takes about
2-3 minutes, most of it compiling; for a longer budget run phase 2 alone (``--skip-throughput``).

Usage::

    python -m benchmarks.gpu_paper --json gpu.json [--steps 200] [--repeats 3] [--warmup 20]
        [--budget-s 300] [--eval-every 1000] [--eval-prompts 1024] [--target 0.01]
        [--skip-throughput] [--skip-target] [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import math
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

PRESET = "linear-paper"

# (name, bf16 autocast, torch.compile mode: None = eager)
MODES = (
    ("float32 eager", False, None),
    ("bf16 autocast eager", True, None),
    ("bf16 autocast + torch.compile", True, "default"),
    ("bf16 autocast + torch.compile reduce-overhead (CUDA graphs)", True, "reduce-overhead"),
)


# ----------------------------------------------------------------------------------------
# Pure helpers (unit-tested on CPU: tests/test_gpu_paper_script.py)


def summarise(run_s: list[float], steps: int, tokens_per_step: int, total_steps: int) -> dict:
    """Throughput of the best of ``run_s`` (seconds for ``steps`` steps each); projected hours for ``total_steps``.

    The best run is the least disturbed by anything else on the machine, so it is the estimate of
    the step's own cost; the median is kept beside it.

    >>> s = summarise([2.0, 1.0, 4.0], steps=100, tokens_per_step=82, total_steps=360000)
    >>> s["steps_per_s"], s["ms_per_step"], s["tokens_per_s"], s["hours_for_total"]
    (100.0, 10.0, 8200.0, 1.0)
    """
    best = min(run_s)
    sps = steps / best
    return {"steps_per_s": sps, "ms_per_step": 1000.0 * best / steps, "tokens_per_s": sps * tokens_per_step,
            "median_ms_per_step": 1000.0 * sorted(run_s)[len(run_s) // 2] / steps,
            "hours_for_total": total_steps / sps / 3600.0, "runs_s": list(run_s)}


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a ``metrics.jsonl`` written so far (empty when the file does not exist yet).

    Read while the trainer is still appending, so a last line without its newline (or one that
    is not JSON) is a write in progress and is skipped.
    """
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def time_to_target(records: list[dict], k: int, target: float, d_full: int) -> dict:
    """The first evaluation whose error at prefix length ``k`` is <= ``target`` once the curriculum is at ``d_full``.

    ``records`` are ``metrics.jsonl``'s: training records (``step``, ``d``, ``n_points``,
    ``elapsed_s``; ``d`` is the dimension of the last step trained) and ``"kind": "eval"`` records
    (``step``, ``error``: the normalised error per number of in-context pairs, index k predicts
    the (k+1)-th point). An evaluation counts only when the training record at or before its step
    has ``d == d_full``: an early low error at a smaller active dimension (the model is evaluated
    on the full task, so this is rare, but it is no result) does not. Its time is that record's
    ``elapsed_s``: the trainer's wall time up to that step, compilation and earlier evaluations
    included. An evaluation whose curve has no index ``k`` (or a non-finite value there) is
    skipped.

    Returns ``{"reached": True, "step", "error", "elapsed_s", ...}`` for the first such evaluation,
    else ``{"reached": False, "step"/"error": the last evaluation and its error at k (None when
    missing), "elapsed_s": the last training record's, "best_step"/"best_error": the lowest error
    at k over every evaluation, "curriculum_done": whether d reached d_full}``; both carry
    ``k``, ``target``, ``d_full`` and ``last_step`` (the last training record's step).

    >>> recs = [{"step": 100, "d": 20, "elapsed_s": 5.0}, {"step": 100, "kind": "eval", "error": [1.0, 0.005]}]
    >>> r = time_to_target(recs, k=1, target=0.01, d_full=20)
    >>> r["reached"], r["step"], r["elapsed_s"]
    (True, 100, 5.0)
    """
    logs = sorted((r for r in records if r.get("kind") is None and "step" in r and "d" in r),
                  key=lambda r: r["step"])
    evals = sorted((r for r in records if r.get("kind") == "eval" and "step" in r), key=lambda r: r["step"])
    log_steps = [r["step"] for r in logs]

    def at_k(ev: dict) -> float | None:
        err = ev.get("error") or []
        value = err[k] if 0 <= k < len(err) else None
        return float(value) if value is not None and math.isfinite(value) else None

    common = {"k": k, "target": target, "d_full": d_full, "last_step": logs[-1]["step"] if logs else None}
    best_step, best_error = None, None
    for ev in evals:
        e = at_k(ev)
        if e is None:
            continue
        if best_error is None or e < best_error:
            best_step, best_error = ev["step"], e
        i = bisect.bisect_right(log_steps, ev["step"]) - 1  # the training record at or before the evaluation
        if i >= 0 and logs[i]["d"] == d_full and e <= target:
            return {"reached": True, "step": ev["step"], "error": e, "elapsed_s": logs[i].get("elapsed_s"), **common}
    last = evals[-1] if evals else None
    return {"reached": False, "step": last["step"] if last else None, "error": at_k(last) if last else None,
            "elapsed_s": logs[-1].get("elapsed_s") if logs else None, "best_step": best_step,
            "best_error": best_error, "curriculum_done": any(r["d"] == d_full for r in logs), **common}


def format_target(r: dict) -> str:
    """One line for a :func:`time_to_target` result."""
    if r["reached"]:
        return (f"  error at k = {r['k']} <= {r['target']:g} reached at step {r['step']:,} after "
                f"{r['elapsed_s'] / 60:.1f} min of training ({r['error']:.4f})")
    best = "none measured" if r["best_error"] is None else f"{r['best_error']:.4f} at step {r['best_step']:,}"
    done = "finished" if r["curriculum_done"] else "not finished"
    trained = "nothing" if r["last_step"] is None else f"{r['last_step']:,} steps in {r['elapsed_s'] / 60:.1f} min"
    return (f"  target not reached within the budget: error at k = {r['k']} <= {r['target']:g} was not "
            f"reached; trained {trained}, curriculum (d = {r['d_full']}) {done}, best error at k {best}")


def format_throughput(result: dict) -> list[str]:
    """The printed lines of :func:`gpu_paper_preset`'s result, one per mode."""
    lines = []
    for name, m in result["modes"].items():
        if "error" in m:
            lines.append(f"  {name}: failed ({m['error']})")
            continue
        speed = f"{m['speedup']:.2f}x" if m.get("speedup") is not None else "n/a"
        lines.append(f"  {name}: {m['steps_per_s']:.1f} steps/s, {m['tokens_per_s']:,.0f} tokens/s, "
                     f"{m['ms_per_step']:.2f} ms/step (median {m['median_ms_per_step']:.2f}), {speed} over "
                     f"float32 eager, {m['hours_for_total']:.1f} h for {result['total_steps']:,} steps; "
                     f"first step {m['first_step_s']:.1f} s, warm-up {m['warmup_s']:.1f} s, "
                     f"peak memory {m['peak_mem_gib']:.2f} GiB")
    return lines


# ----------------------------------------------------------------------------------------
# Phase 1: throughput (CUDA only)


def _time_mode(cfg, amp: bool, compile_mode: str | None, steps: int, repeats: int, warmup: int,
               device: str = "cuda") -> dict:
    """Seconds of ``repeats`` runs of ``steps`` training steps of ``cfg`` in one mode, after ``warmup`` steps.

    ``device`` is "cuda" here; "cpu" (float32 eager only) lets the tests run the same step code.
    """
    from icl.errors import NonFiniteLossError
    from icl.tasks import make_task
    from icl.train import TrainState, batch_at, loss_fn, lr_at

    dev = torch.device(device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    task = make_task(cfg.task)
    state = TrainState.start(cfg, task, dev)  # the trainer's model (seeded) and AdamW (its parameter groups)
    model, opt = state.model, state.optimizer
    net = model if compile_mode is None else torch.compile(model, mode=compile_mode)
    graphs = compile_mode == "reduce-overhead"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp else contextlib.nullcontext
    last = cfg.train.steps - 1  # final curriculum: d = task.d, n_points = task.n_points
    batches = [batch_at(cfg, last - i, task).to(dev) for i in range(4)]
    lr = lr_at(last, cfg.train)
    model.train()

    def step(i: int) -> None:
        if graphs:  # every step is a new iteration: cudagraph outputs of the previous one may be reused
            torch.compiler.cudagraph_mark_step_begin()
        b = batches[i % len(batches)]
        for group in opt.param_groups:
            group["lr"] = lr
        with autocast():
            preds = net(b.xs, b.ys)
        loss = loss_fn(preds, b.ys, task.is_classification, model.head)
        if not torch.isfinite(loss.detach()):  # the trainer checks every step (a host sync)
            raise NonFiniteLossError(f"loss is {loss.item()} at benchmark step {i}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
        opt.step()

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    sync()
    t = time.perf_counter()
    step(0)  # compilation happens here (CUDA graphs are recorded over the next warm-up steps)
    sync()
    first = time.perf_counter() - t
    for i in range(1, warmup):
        step(i)
    sync()
    warm = time.perf_counter() - t
    runs = []
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        for i in range(steps):
            step(i)
        sync()
        runs.append(time.perf_counter() - t)
    return {"runs_s": runs, "first_step_s": first, "warmup_s": warm,
            "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None}


def gpu_paper_preset(steps: int = 200, repeats: int = 3, warmup: int = 20, progress: bool = True) -> dict:
    """Steps/s of the linear-paper preset (Garg et al. 2022) on CUDA at its final shapes, in each of :data:`MODES`.

    Returns ``{"device", "torch", "total_steps", "tokens_per_step", "modes": {name: summary}}``,
    each summary from :func:`summarise` plus the first-step and warm-up seconds, the peak memory
    and the speed-up over float32 eager; a mode that raised carries ``{"error": message}``.
    """
    from icl.config import load_preset

    cfg = load_preset(PRESET)
    tokens = cfg.train.batch_size * 2 * cfg.task.n_points
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "preset": PRESET, "total_steps": cfg.train.steps, "tokens_per_step": tokens,
           "steps": steps, "repeats": repeats, "warmup": warmup, "modes": {}}
    base = None
    for n, (name, amp, compile_mode) in enumerate(MODES, 1):
        if progress:
            print(f"throughput {n}/{len(MODES)}: {name} ({warmup} warm-up steps, best of {repeats} x {steps})",
                  flush=True)
        try:
            timed = _time_mode(cfg, amp, compile_mode, steps, repeats, warmup)
        except Exception as err:  # one failing mode (a compiler error) must not lose the others' numbers
            out["modes"][name] = {"error": f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"}
        else:
            s = summarise(timed.pop("runs_s"), steps, tokens, cfg.train.steps)
            s.update(timed)
            if base is None and name == MODES[0][0]:
                base = s["steps_per_s"]
            s["speedup"] = s["steps_per_s"] / base if base else None
            out["modes"][name] = s
        finally:
            torch._dynamo.reset()  # the next mode compiles afresh (no cache-size limit, no stale guards)
            torch.cuda.empty_cache()
        if progress:
            print(format_throughput({**out, "modes": {name: out["modes"][name]}})[0], flush=True)
    return out


# ----------------------------------------------------------------------------------------
# Phase 2: time to target (the real trainer, as a subprocess)


def train_command(run_dir: str | Path, eval_every: int, eval_prompts: int) -> list[str]:
    """The trainer's command line: ``icl train`` via ``python -m icl_toolkit`` (the ``icl`` script's module)."""
    return [sys.executable, "-m", "icl_toolkit", "train", "--preset", PRESET, "--out", str(run_dir),
            "--set", f"train.eval_every={eval_every}", "--set", f"train.eval_prompts={eval_prompts}",
            "--device", "cuda", "--quiet"]


def run_to_target(run_dir: Path, budget_s: float, eval_every: int, eval_prompts: int, target: float,
                  poll_s: float = 5.0, grace_s: float = 120.0) -> dict:
    """Train the preset in ``run_dir`` until the target is reached or ``budget_s`` is spent; its :func:`time_to_target`.

    The trainer's output goes to ``<run_dir>.log``. It is stopped with SIGINT (it finishes its
    step, writes a checkpoint and exits 130); if it has not exited after ``grace_s`` it is killed.
    """
    from icl.config import load_preset

    cfg = load_preset(PRESET)
    d_full, k = cfg.task.d, 2 * cfg.task.d
    metrics = run_dir / "metrics.jsonl"
    log_path = run_dir.with_name(run_dir.name + ".log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = train_command(run_dir, eval_every, eval_prompts)
    t0 = time.monotonic()
    stopped_by = "trainer exited"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            while proc.poll() is None:
                left = budget_s - (time.monotonic() - t0)
                if left <= 0:
                    stopped_by = "budget"
                    break
                time.sleep(min(poll_s, left))
                if time_to_target(read_metrics(metrics), k, target, d_full)["reached"]:
                    stopped_by = "target reached"
                    break
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    stopped_by += f" (killed: no exit {grace_s:.0f} s after SIGINT)"
                    proc.kill()
                    proc.wait()
        finally:
            if proc.poll() is None:  # this script itself was interrupted
                proc.kill()
                proc.wait()
    wall = time.monotonic() - t0
    result = time_to_target(read_metrics(metrics), k, target, d_full)
    result.update({"budget_s": budget_s, "wall_s": wall, "stopped_by": stopped_by, "returncode": proc.returncode,
                   "eval_every": eval_every, "eval_prompts": eval_prompts, "command": " ".join(cmd[1:])})
    if proc.returncode not in (0, 130, -signal.SIGKILL):
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
        result["trainer_error"] = " | ".join(tail)
    return result


# ----------------------------------------------------------------------------------------
# Command line


def _write(path: str | None, results: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(results, indent=2) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", metavar="PATH", help="write every number measured to this JSON file")
    p.add_argument("--steps", type=int, default=200, help="timed steps per run (default 200)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per mode; the best counts (default 3)")
    p.add_argument("--warmup", type=int, default=20, help="warm-up steps per mode, compilation included (default 20)")
    p.add_argument("--budget-s", type=float, default=300.0, help="wall-clock seconds for the time-to-target run")
    p.add_argument("--eval-every", type=int, default=1000, help="train.eval_every of the time-to-target run")
    p.add_argument("--eval-prompts", type=int, default=1024, help="train.eval_prompts of the time-to-target run")
    p.add_argument("--target", type=float, default=0.01, help="normalised error at k = 2d to reach (default 0.01)")
    p.add_argument("--run-dir", help="run folder of the time-to-target run, kept (default: a temporary one, removed)")
    p.add_argument("--skip-throughput", action="store_true", help="skip phase 1 (steps/s in four modes)")
    p.add_argument("--skip-target", action="store_true", help="skip phase 2 (time to target)")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device: nothing measured", flush=True)
        return 2
    t0 = time.perf_counter()
    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda,
               "preset": PRESET, "args": vars(args)}
    print(f"{results['device']}, torch {results['torch']} (CUDA {results['cuda']}), preset {PRESET}", flush=True)
    if not args.skip_throughput:
        print("phase 1: throughput at the final shapes", flush=True)
        results["throughput"] = gpu_paper_preset(args.steps, args.repeats, args.warmup)
        _write(args.json, results)
    if not args.skip_target:
        print(f"phase 2: time to error <= {args.target:g} at k = 2d, budget {args.budget_s:.0f} s "
              f"(eval every {args.eval_every} steps on {args.eval_prompts} prompts)", flush=True)
        tmp = None
        if args.run_dir:
            run_dir = Path(args.run_dir)
        else:
            tmp = tempfile.mkdtemp(prefix="gpu_paper_")
            run_dir = Path(tmp) / "run"
        try:
            r = run_to_target(run_dir, args.budget_s, args.eval_every, args.eval_prompts, args.target)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        results["time_to_target"] = r
        print(format_target(r), flush=True)
        print(f"  trainer stopped by: {r['stopped_by']}, exit code {r['returncode']}, {r['wall_s']:.0f} s wall "
              f"(process start and imports included)", flush=True)
        if "trainer_error" in r:
            print(f"  trainer failed: {r['trainer_error']}", flush=True)
        _write(args.json, results)
    results["total_s"] = time.perf_counter() - t0
    _write(args.json, results)
    print(f"done in {results['total_s']:.0f} s" + (f"; wrote {args.json}" if args.json else ""), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
