"""TAGGER_RUNTIME: the tagger's network on ONNX Runtime (its export, `models.build.tagger_onnx`) or
TorchScript, chosen per device, and the same scores and tags from both."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brigade.settings import Settings
from models import registry
from models.build.tagger import NAME
from models.build.tagger_onnx import photo_frames
from models.tagger import artifact
from tests.fixtures_media import SHIPPED_STORE

VERSION = "2.0.0"
CPU, CUDA = torch.device("cpu"), torch.device("cuda:0")


@pytest.fixture(scope="module")
def shipped():
    path = SHIPPED_STORE / NAME / VERSION
    return path, registry.verify(path)  # the export's sha256 is checked like every other file's


@pytest.fixture(scope="module")
def taggers(shipped):
    return {runtime: artifact.load(*shipped, runtime=runtime) for runtime in ("onnx", "torchscript")}


@pytest.mark.unit
def test_the_runtime_is_chosen_by_the_setting_the_device_and_what_the_artifact_ships():
    exported, plain = {"name": NAME, "version": VERSION, "onnx": "model.onnx"}, {"name": NAME, "version": VERSION}
    assert artifact.choose_runtime("auto", exported, CPU) == artifact.ONNXRUNTIME
    assert artifact.choose_runtime("auto", exported, CUDA) == artifact.TORCHSCRIPT  # half precision, big batches
    assert artifact.choose_runtime("auto", plain, CPU) == artifact.TORCHSCRIPT  # an artifact without an export
    assert artifact.choose_runtime("torchscript", exported, CPU) == artifact.TORCHSCRIPT
    assert artifact.choose_runtime("onnx", exported, CUDA) == artifact.ONNXRUNTIME
    with pytest.raises(registry.ModelError, match="ships no ONNX export"):
        artifact.choose_runtime("onnx", plain, CPU)


@pytest.mark.unit
def test_an_unknown_runtime_is_refused_at_start():
    with pytest.raises(ValueError, match="TAGGER_RUNTIME='tensorrt'"):
        Settings(TAGGER_RUNTIME="tensorrt")


def test_the_shipped_export_is_recorded_and_served_on_this_cpu_by_default(shipped):
    _, manifest = shipped
    assert manifest["onnx"] == "model.onnx" and "model.onnx" in manifest["files"]
    assert manifest["onnx_export"]["max_abs_logit_difference"] <= 1e-3
    tagger = registry.load_model(f"{NAME}@{VERSION}", store=SHIPPED_STORE)
    assert tagger.runtime == artifact.ONNXRUNTIME and tagger.describe()["runtime"] == "onnxruntime"


def test_both_runtimes_score_real_photographs_and_noise_alike_at_both_batch_shapes(taggers):
    size = taggers["onnx"].frame_size
    rng = np.random.default_rng(3)
    windows = np.concatenate([photo_frames(size, 6), rng.integers(0, 256, (3, 1, size, size, 3), np.uint8)])
    onnx, script = taggers["onnx"], taggers["torchscript"]
    assert (onnx.runtime, script.runtime) == (artifact.ONNXRUNTIME, artifact.TORCHSCRIPT)
    ours, theirs = onnx.window_probs(windows), script.window_probs(windows)  # a full batch, then 1 by 1
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    threshold = onnx.threshold
    assert np.array_equal(ours >= threshold, theirs >= threshold)
    assert (ours[:6] >= threshold).any()  # the photographs are tagged at all: not two equally broken answers
