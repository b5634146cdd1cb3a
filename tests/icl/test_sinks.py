"""Log sinks (icl.sinks) and the train.log field: TensorBoard scalars equal metrics.jsonl's records,
the field is strict, and it leaves the config hash and the config dict of existing runs unchanged."""

from __future__ import annotations

import json

import pytest

from icl.config import config_hash, config_to_dict, load_preset, parse_overrides
from icl.errors import ConfigError
from icl.sinks import open_sinks
from icl.train import train

TINY = {"model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16, "task.d": 3, "task.n_points": 6,
        "model.n_positions": 6, "train.batch_size": 8, "train.warmup": 3, "train.log_every": 5,
        "train.eval_prompts": 16, "train.steps": 20, "train.checkpoint_every": 10, "train.device": "cpu"}


def test_tensorboard_scalars_equal_the_metrics_records(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = load_preset("linear-quick", {**TINY, **parse_overrides(['train.log=["jsonl", "tensorboard"]'])})
    run = train(cfg, tmp_path / "run", progress=False, max_steps=10)
    train(cfg, run, progress=False)  # a resumed run appends to the same event folder
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    loss = {e.step: e.value for e in events.Scalars("train/loss")}
    assert loss.keys() == {r["step"] for r in records if "loss" in r} == {5, 10, 15, 20}
    assert all(loss[r["step"]] == pytest.approx(r["loss"], rel=1e-6) for r in records if "loss" in r)
    final = [r for r in records if r.get("kind") == "eval"][-1]
    assert [e.value for e in events.Scalars("eval/error_k3")] == [pytest.approx(final["error"][3], rel=1e-6)]


def test_train_log_is_strict_and_outside_the_hash():
    base = load_preset("linear-quick", TINY)
    tb = load_preset("linear-quick", {**TINY, "train.log": ["jsonl", "tensorboard"]})
    assert tb.train.log == ("jsonl", "tensorboard") and base.train.log == ("jsonl",)
    assert config_hash(tb) == config_hash(base)  # how a run reports is not what it computes
    assert "log" not in config_to_dict(base)["train"]  # configs written before the field keep their dict
    assert config_to_dict(tb)["train"]["log"] == ("jsonl", "tensorboard")
    for bad, match in ((["tensorboard"], "must list 'jsonl'"), (["jsonl", "wandb"], "train.log"),
                       (["jsonl", "jsonl"], "each once"), ("jsonl", "expected an array of strings")):
        with pytest.raises(ConfigError, match=match):
            load_preset("linear-quick", {"train.log": bad})


def test_open_sinks_rejects_unknown_names(tmp_path):
    assert open_sinks(("jsonl",), tmp_path) == []
    with pytest.raises(ConfigError, match="unknown sink 'wandb'"):
        open_sinks(("jsonl", "wandb"), tmp_path)
