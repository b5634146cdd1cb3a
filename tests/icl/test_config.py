"""Strict configs: presets load, round-trip, hash stably; unknown keys and bad values name the key."""

from __future__ import annotations

import dataclasses
import json

import pytest

from icl.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    config_from_dict,
    config_hash,
    config_to_dict,
    list_presets,
    load_config_file,
    load_preset,
    parse_overrides,
)

REQUIRED = ["linear", "noisy-linear", "sparse-linear", "sign-vector", "gaussian-mixture", "finite-pool", "fourier"]


def test_required_presets_exist():
    names = list_presets()
    for task in REQUIRED:
        assert f"{task}-quick" in names and f"{task}-paper" in names


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_loads_and_round_trips(name):
    cfg = load_preset(name)
    assert isinstance(cfg, RunConfig)
    data = config_to_dict(cfg)
    assert config_from_dict(json.loads(json.dumps(data))) == cfg
    assert cfg.model.n_positions >= cfg.task.n_points


def test_paper_preset_matches_garg():
    cfg = load_preset("linear-paper")
    assert (cfg.model.n_layer, cfg.model.n_head, cfg.model.n_embd) == (12, 8, 256)
    assert (cfg.task.d, cfg.task.n_points, cfg.train.batch_size, cfg.train.lr) == (20, 41, 64, 1e-4)
    c = cfg.train.curriculum
    assert c.enabled and (c.dims_start, c.dims_inc, c.points_start, c.points_inc, c.interval) == (5, 1, 11, 2, 2000)


def test_overrides_parse_toml_values_and_bare_strings():
    sets = parse_overrides(["model.n_layer=2", "train.lr=3e-4", "train.schedule=wsd", "model.pos_emb=false",
                            "train.curriculum.enabled=true", "train.curriculum.dims_start=2",
                            "train.curriculum.points_start=5"])
    assert sets == {"model.n_layer": 2, "train.lr": 3e-4, "train.schedule": "wsd", "model.pos_emb": False,
                    "train.curriculum.enabled": True, "train.curriculum.dims_start": 2,
                    "train.curriculum.points_start": 5}
    cfg = load_preset("linear-quick", sets)
    assert cfg.model.n_layer == 2 and cfg.train.lr == 3e-4 and cfg.train.schedule == "wsd"
    assert cfg.model.pos_emb is False and cfg.train.curriculum.enabled and cfg.train.curriculum.dims_start == 2


def test_overrides_are_python_values_and_equal_their_command_line_form():
    sets = {"task.kwargs.k": 2, "task.noise": 0.25, "train.schedule": "cosine", "model.bias": False}
    cfg = load_preset("sparse-linear-quick", sets)
    assert cfg == load_preset("sparse-linear-quick", parse_overrides(
        ["task.kwargs.k=2", "task.noise=0.25", 'train.schedule="cosine"', "model.bias=false"]))
    assert cfg.task.kwargs == {"k": 2} and cfg.train.schedule == "cosine" and cfg.model.bias is False


def test_task_kwargs_override_and_int_accepted_for_float():
    cfg = load_preset("sparse-linear-quick", parse_overrides(["task.kwargs.k=3", "task.noise=1"]))
    assert cfg.task.kwargs["k"] == 3 and cfg.task.noise == 1.0 and isinstance(cfg.task.noise, float)


@pytest.mark.parametrize(
    "override, match",
    [
        ("model.n_layers=4", r"^model\.n_layers: unknown key; valid keys: n_layer"),
        ("modle.n_layer=4", r"^modle: unknown key"),
        ("train.lr=abc", r"^train\.lr: expected a number, got 'abc'"),
        ("model.n_layer=2.5", r"^model\.n_layer: expected an integer"),
        ("model.n_layer=true", r"^model\.n_layer: expected an integer"),
        ("model.pos_emb=1", r"^model\.pos_emb: expected true or false"),
        ("model.n_embd=130", r"^model\.n_embd: must be divisible by model\.n_head"),
        ("train.schedule=linear", r"^train\.schedule: must be one of constant, cosine, wsd"),
        ("train.lr=-1", r"^train\.lr: must be > 0"),
        ("task.n_points=99", r"^model\.n_positions: must be >= task\.n_points=99"),
        ("task.name=nope", r"unknown task 'nope'; valid tasks: linear, "),
        ("task.kwargs.kk=3", r"^task\.kwargs\.kk: unknown argument of task 'linear'"),
        ("task.d=0", r"task\.d"),
        ("train.device=tpu", r"^train\.device: must be one of auto, cpu, cuda"),
        ("model.n_layer.x=1", r"^model\.n_layer: is a value, not a table"),
        ("model.n_layer", r"expected KEY=VALUE"),
    ],
)
def test_bad_overrides_give_one_line_errors_naming_the_key(override, match):
    with pytest.raises(ConfigError, match=match) as info:
        load_preset("linear-quick", parse_overrides([override]))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"train": {}}, r"^train: is a section, not a value; set its keys one by one, e.g. train\.steps"),
        ({"train.curriculum": {"enabled": True}}, r"^train\.curriculum: is a section, not a value"),
        ({"model": {"n_layer": 2}}, r"^model: is a section, not a value"),
        ({"model.n_layers": 4}, r"^model\.n_layers: unknown key; valid keys: n_layer"),
        ({"train.lr": "fast"}, r"^train\.lr: expected a number, got 'fast'"),
        ({"model..n_layer": 4}, r"malformed key"),
    ],
)
def test_mapping_overrides_name_the_key_and_cannot_replace_a_section(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_preset("linear-quick", overrides)


def test_overrides_must_be_a_mapping():
    with pytest.raises(TypeError, match="parse_overrides"):
        load_preset("linear-quick", ["model.n_layer=2"])


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ConfigError, match=r"unknown preset 'nope'; valid presets: .*linear-quick"):
        load_preset("nope")


def test_strict_dict_loading():
    data = config_to_dict(load_preset("linear-quick"))
    data["train"]["bogus"] = 1
    with pytest.raises(ConfigError, match=r"^train\.bogus: unknown key"):
        config_from_dict(data)
    with pytest.raises(ConfigError, match=r"^model: expected a table"):
        config_from_dict({"model": 3})


def test_frozen():
    cfg = load_preset("linear-quick")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 3


def test_hash_is_stable_and_ignores_device_and_logging():
    a = load_preset("linear-quick")
    assert config_hash(a) == config_hash(load_preset("linear-quick"))
    assert len(config_hash(a)) == 12
    same = load_preset("linear-quick", {"train.device": "cpu", "train.log_every": 7, "train.checkpoint_every": 3,
                                        "train.compile": True})
    assert config_hash(same) == config_hash(a)
    for key, value in (("model.n_layer", 2), ("seed", 1), ("train.lr", 1e-2), ("task.kwargs.scale", 2.0)):
        assert config_hash(load_preset("linear-quick", {key: value})) != config_hash(a), key


def test_config_file_toml_and_json(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('seed = 3\n[task]\nname = "linear"\nd = 3\nn_points = 7\n[model]\nn_layer = 1\nn_head = 1\n'
                    'n_embd = 8\nn_positions = 7\n[train]\nsteps = 5\n')
    cfg = load_config_file(toml, {"train.steps": 6})
    assert cfg.seed == 3 and cfg.train.steps == 6 and cfg.task.d == 3
    js = tmp_path / "config.json"
    js.write_text(json.dumps(config_to_dict(cfg)))
    assert load_config_file(js) == cfg
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = = 3")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config_file(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "missing.toml")


def test_apply_overrides_does_not_mutate():
    data = {"model": {"n_layer": 2}}
    out = apply_overrides(data, {"model.n_layer": 3})
    assert data["model"]["n_layer"] == 2 and out["model"]["n_layer"] == 3


# Hashes of the bundled presets before model.head / model.n_bins existed: runs and figure caches
# keyed by them stay valid because a field at its default is left out of the dict and the hash.
PRE_HEAD_HASHES = {"linear-quick": "abba5c53e142", "linear-paper": "376aeaa2ff48",
                   "noisy-linear-quick": "8de67c3e9dfb", "sparse-linear-quick": "f38f43c9c4c3",
                   "gaussian-mixture-quick": "712868d27354", "finite-pool-quick": "7cf6890e49ce",
                   "fourier-quick": "585111b58746", "sign-vector-paper": "3852e6b00403"}


@pytest.mark.parametrize("name", sorted(PRE_HEAD_HASHES))
def test_head_field_leaves_existing_hashes_unchanged(name):
    cfg = load_preset(name)
    assert cfg.model.head == "mean" and cfg.model.n_bins == 100
    assert config_hash(cfg) == PRE_HEAD_HASHES[name]
    assert "head" not in config_to_dict(cfg)["model"] and "n_bins" not in config_to_dict(cfg)["model"]
    assert config_hash(load_preset(name, {"model.head": "mean"})) == PRE_HEAD_HASHES[name]


def test_head_and_bins_round_trip_and_change_the_hash():
    gauss = load_preset("linear-quick", {"model.head": "gaussian"})
    bar = load_preset("linear-quick", {"model.head": "bar", "model.n_bins": 64})
    hashes = {config_hash(load_preset("linear-quick")), config_hash(gauss), config_hash(bar),
              config_hash(load_preset("linear-quick", {"model.head": "bar"}))}
    assert len(hashes) == 4
    for cfg in (gauss, bar):
        assert config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg
    assert config_to_dict(bar)["model"]["head"] == "bar" and config_to_dict(bar)["model"]["n_bins"] == 64


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"model.head": "student"}, r"^model\.head: must be one of mean, gaussian, bar, got 'student'"),
        ({"model.head": "bar", "model.n_bins": 2}, r"^model\.n_bins: must be >= 3"),
        ({"model.n_bins": 50}, r"^model\.n_bins: applies to model\.head = 'bar' only, but model\.head is 'mean'"),
        ({"model.head": 3}, r"^model\.head: expected a string"),
    ],
)
def test_bad_head_settings_name_the_key(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_preset("linear-quick", overrides)


def test_distributional_head_refused_for_classification():
    with pytest.raises(ConfigError, match=r"^model\.head: 'gaussian' reads out a distribution over a real y"):
        load_preset("linear-quick", {"task.name": "linear-classification", "model.head": "gaussian"})


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_takes_every_head(name):
    for head in ("mean", "gaussian", "bar"):
        cfg = load_preset(name, {"model.head": head})
        assert cfg.model.head == head and config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg
