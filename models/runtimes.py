"""The two runtimes frame models run on, held to the same thread budget as the tagger's torch
(TORCH_THREADS: intra-op threads per worker process, one core per replica by default).

TorchScript for the networks we script ourselves (the face detector), ONNX Runtime for graphs that
ship as ONNX or convert to it (the text reader, the person detector). Both use CUDA when the
process has a GPU and the runtime can reach it, the CPU otherwise.
"""

from __future__ import annotations

from pathlib import Path

from brigade.settings import get_settings


def model_threads() -> int:
    return max(1, int(get_settings().TORCH_THREADS))


def torch_device():
    import torch

    return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")


def load_torchscript(path: str | Path):
    """A TorchScript module on this process's device, in eval mode and frozen, torch held to
    TORCH_THREADS."""
    import torch

    torch.set_num_threads(model_threads())
    module = torch.jit.load(str(path), map_location=torch_device()).eval()
    return torch.jit.freeze(module)


def onnx_providers() -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def onnx_session(path: str | Path):
    """An ONNX Runtime session for `path` on CUDA when present, else CPU with TORCH_THREADS intra-op
    threads and one inter-op thread (no spinning threads left behind: a worker shares its core with
    ffmpeg)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = model_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=options, providers=onnx_providers())


def onnx_device(session) -> str:
    return "cuda:0" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"


class OnnxModule:
    """An ONNX Runtime session called like a one-input torch module: a float CPU tensor in, the
    first output as a tensor out (no copy either way: both sides share the numpy buffers). The
    tagger serves its ONNX export through this where it would call its TorchScript module."""

    def __init__(self, session):
        import torch

        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.device = onnx_device(session)
        self._tensor = torch.from_numpy

    def __call__(self, x):
        return self._tensor(self.session.run(None, {self.input_name: x.numpy()})[0])
