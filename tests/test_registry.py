"""The shipped synthetic tagger artifact in the model store: integrity, lookup errors, drop-in contract."""

from __future__ import annotations

import json

import pytest
import torch

from models import registry
from models.build.synth import Scene
from models.registry import IntegrityError, UnknownModel, load_model, write_artifact
from models.tagger.inference import tag_file
from tests.fixtures_media import SHIPPED_STORE, TAGGER, copy_store, flip_byte, scenes_clip

KIND = "video-tagger"  # the artifact kind every tagger shares: one loader serves them all


@pytest.fixture(autouse=True)
def fresh_cache():
    registry.clear_cache()
    yield
    registry.clear_cache()


def test_shipped_artifact_is_complete_small_and_default():
    folder = SHIPPED_STORE / TAGGER / "1.0.0"
    assert (SHIPPED_STORE / TAGGER / "DEFAULT").read_text().strip() == "1.0.0"
    manifest = registry.verify(folder)
    assert manifest["kind"] == KIND and set(manifest["files"]) == {"model.ts", "labels.json"}
    assert sum(p.stat().st_size for p in folder.iterdir()) < 3 * 2**20
    assert manifest["training"]["seed"] != manifest["evaluation"]["seed"]
    assert manifest["metrics"]["mAP"] >= 0.95 and len(manifest["metrics"]["f1_at_0.5"]) == 13
    assert {"frame_size", "frames_per_window", "window_s", "mean", "std", "fps"} <= set(manifest["input_spec"])
    assert manifest["framework"]["torch"] == torch.__version__


def test_load_reports_labels_groups_device_and_spec(tmp_path):
    tagger = load_model(TAGGER, store=copy_store(tmp_path))
    assert (tagger.name, tagger.version, tagger.device) == (TAGGER, "1.0.0", "cpu")
    assert len(tagger.labels) == 13 and tagger.groups["setting"] == {"exclusive": True, "labels": ["indoor", "outdoor", "park"]}
    assert tagger.groups["objects"]["exclusive"] is False
    assert tagger.input_spec["frame_size"] == 128
    assert load_model(f"{TAGGER}@1.0.0", store=tmp_path) is load_model(TAGGER, store=tmp_path)  # cached per process


@pytest.mark.parametrize("victim", ["model.ts", "labels.json"])
def test_tampered_file_is_refused(tmp_path, victim):
    store = copy_store(tmp_path)
    flip_byte(store / TAGGER / "1.0.0" / victim, offset=100)
    with pytest.raises(IntegrityError, match=f"{victim} has sha256"):
        load_model(TAGGER, store=store)


def test_unknown_name_or_version_says_what_exists(tmp_path):
    store = copy_store(tmp_path)
    with pytest.raises(UnknownModel, match="no model named 'synth-taggr'.*known: synth-tagger"):
        load_model("synth-taggr", store=store)
    with pytest.raises(UnknownModel, match=r"synth-tagger@9\.9\.9 not found.*versions: 1\.0\.0"):
        load_model(f"{TAGGER}@9.9.9", store=store)


class Brightness(torch.nn.Module):
    """A hand-written 'model': bright frames are day, dark frames are night."""

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        level = frames.mean(dim=(1, 2, 3, 4))
        return torch.stack([level * 8, -level * 8], dim=1)


@pytest.mark.integration  # renders a clip with ffmpeg
def test_dropped_in_torchscript_serves_without_code_changes(tmp_path):
    """Any TorchScript + labels.json + manifest of kind video-tagger is served as is."""
    torch.jit.script(Brightness()).save(str(tmp_path / "model.ts"))
    (tmp_path / "labels.json").write_text(json.dumps(
        {"labels": ["day", "night"], "groups": {"lighting": {"exclusive": True, "labels": ["day", "night"]}}}))
    spec = {"frame_size": 32, "frames_per_window": 1, "window_s": 2.0, "fps": 0.5, "mean": [0.5] * 3, "std": [0.5] * 3}
    write_artifact(tmp_path / "store", "my-tagger", "0.1.0",
                   {"model.ts": tmp_path / "model.ts", "labels.json": tmp_path / "labels.json"},
                   kind=KIND, metadata={"input_spec": spec})
    tagger = load_model("my-tagger", store=tmp_path / "store")
    path, _ = scenes_clip(Scene("outdoor", "day", duration_s=2.0), Scene("outdoor", "night", duration_s=4.0))
    result = tag_file(tagger, path)
    assert [(w["start"], w["end"]) for w in result["windows"]] == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0)]
    assert [w["scores"]["day"] > 0.5 for w in result["windows"]] == [True, False, False]
    assert [t["label"] for t in result["tags"]] == ["night"]  # exclusive group: one label


def test_a_model_is_warmed_up_once_when_first_loaded(monkeypatch):
    from models.tagger.artifact import Tagger

    calls, original = [], Tagger.warm_up

    def counting(self, *args, **kwargs):
        calls.append(self.ref)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Tagger, "warm_up", counting)
    first = load_model(TAGGER, store=SHIPPED_STORE)
    assert load_model(TAGGER, store=SHIPPED_STORE) is first
    assert calls == [first.ref]
