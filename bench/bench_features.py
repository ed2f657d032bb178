"""Several models on one decode (`python -m bench.bench_features`): the frame models (people, faces,
text) served next to the tagger, on CPU, in process (the worker's own code path, `Tagger.handle`).

Everything comes from one run, every arm repeated ROUNDS times with the arms' order alternating
(forward, then reversed: drift hits every arm alike) and medians taken; ratios are what to quote,
absolute times drift on shared cores.

1. per frame model, frames/s: bare (its `infer` on frames already decoded and already preprocessed,
   at its own `batch`), served (the same frames through `handle`: preprocessing, `batch` frames per
   infer, postprocessing) and in a job (its `timings.models[feature]`: frames / infer_s in the
   all-features job, with the decode running beside it); served / bare and job / bare;
2. CPU-seconds per video-second for each feature: real jobs on a 720p H.264 clip of real photographs
   (people and faces from package-shipped photos, title cards rendered in Pillow's own font over
   real photos, `models.build.eval_media`) for labels, labels+people, labels+faces, labels+text and all
   four; CPU is this process (models, conversion, pipe reading) plus its ffmpeg children
   (getrusage deltas): robust to other work on the machine, unlike wall time;
3. the shared-decode saving: all four features on one decode against the same four models each
   decoding for itself (a labels job, then people, faces and text jobs without labels, each with
   its own decode and shots): total CPU-seconds and wall, the ratio.

A frame model missing from the store (or failing to load) is named and its rows skipped; the run
exits 0 when every present model ran. Writes bench/results/features.json, features.md and
features.png. About 4-5 minutes on 2 busy cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.bench_tagger import median, ratio_summary
from bench.report import RESULTS, cpu_times, write
from brigade.features import FACES, FEATURES, FRAME_MODELS, LABELS, PEOPLE, TEXT
from brigade.settings import get_settings
from models.build.eval_media import CLIPS, shot_pictures
from models.build.photos import make_concat_clip
from models.service import service
from models.tagger.inference import TagRequest

ROUNDS = 5
MIN_ARM_S = 1.0  # a bare or served arm times whole passes over its frames for at least this long
SHOT_S = 3.0  # 8 shots: a 24-s clip
WIDTH, HEIGHT = 1280, 720
#: (evaluation clip, shot index): people and faces from photos, then title cards (text over photos).
SHOTS = (("people-faces", 0), ("people-faces", 1), ("people-faces", 3), ("people-faces", 4),
         ("text-zoom", 0), ("text-zoom", 1), ("text-zoom", 2), ("text-pan", 0))


def clip_pictures() -> list[np.ndarray]:
    """The clip's shots, in order: the evaluation set's own pictures (`models.build.eval_media`)."""
    rendered = {name: shot_pictures(CLIPS[name]) for name in dict.fromkeys(name for name, _ in SHOTS)}
    return [rendered[name][index][0] for name, index in SHOTS]


def make_clip(folder: Path) -> Path:
    """A 720p H.264 clip, SHOT_S seconds a shot, hard cuts, slow zoom (`models.build.photos`)."""
    shots = clip_pictures()
    return make_concat_clip(folder / "features720.mp4", shots, seconds_each=SHOT_S, width=WIDTH, height=HEIGHT)[0]


def load_frame_models() -> tuple[dict, dict[str, str]]:
    """({feature: loaded model}, {feature: why it is missing}): a model still being built, or
    broken, is skipped rather than failing the whole benchmark."""
    models, missing = {}, {}
    for feature, name in FRAME_MODELS.items():
        try:
            models[feature] = service(name)
        except Exception as exc:  # any reason a store artifact does not load is reported alike
            missing[feature] = f"{name}: {type(exc).__name__}: {exc}"
    return models, missing


class Recorder:
    """Stands in for a frame model in a job: keeps a copy of every frame the job's decode hands it
    (the bare and served arms then run on exactly the frames a job gives the model), and answers
    through the model itself."""

    def __init__(self, model):
        self.model, self.spec, self.frames = model, model.spec, []

    def handle(self, frames: list[np.ndarray]) -> list[list[dict]]:
        self.frames.extend(np.array(frame) for frame in frames)
        return self.model.handle(frames)


def job(tagger, models: dict, path: Path, features: tuple[str, ...]) -> dict:
    """One job for `features` as a worker runs it (shots on), the CPU it took (this process and its
    ffmpeg), its wall time and each frame model's own timing."""
    request = TagRequest(str(path), frame_models=tuple((f, models[f]) for f in features if f in models),
                         labels=LABELS in features)
    own0, child0 = cpu_times()
    started = time.perf_counter()
    result = tagger.handle(request)
    wall = time.perf_counter() - started
    own1, child1 = cpu_times()
    worker, decoder = own1 - own0, child1 - child0
    duration = max(result["duration_s"], 1e-9)
    return {"wall_s": round(wall, 3), "worker_cpu_s": round(worker, 3), "ffmpeg_cpu_s": round(decoder, 3),
            "cpu_s": round(worker + decoder, 3), "cpu_s_per_video_s": round((worker + decoder) / duration, 4),
            "duration_s": result["duration_s"], "frames_decoded": result["timings"]["frames_decoded"],
            "models": result["timings"].get("models", {}), "_result": result}


def found(result: dict) -> dict:
    """What the job found, per feature (a check that each model saw what the clip holds)."""
    out = {"tags": [t["label"] for t in result.get("tags", [])]}
    for feature in (PEOPLE, FACES):
        if feature in result:
            out[feature] = {"max_count": result[feature]["max_count"], "seen": result[feature]["seen"]}
    if TEXT in result:
        out[TEXT] = [entry["text"] for entry in result[TEXT]]
    return out


def job_arms(present: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """name -> features: labels alone, labels with each present model, all together (one decode),
    and each present model alone (labels=False: the separate decodes of part 3)."""
    combos = [(LABELS,), *((LABELS, f) for f in present), (LABELS, *present), *((f,) for f in present)]
    return {"+".join(c): c for c in combos}


def chunks(items: list, size: int) -> list[list]:
    return [items[i:i + max(1, size)] for i in range(0, len(items), max(1, size))]


def timed_fps(run_once, frames: int) -> float:
    """Frames/s of `run_once` (one pass over `frames` frames), passes repeated until MIN_ARM_S has
    gone by: a fast model's single pass is too short to time on a busy machine."""
    passes, started = 0, time.perf_counter()
    while True:
        run_once()
        passes += 1
        elapsed = time.perf_counter() - started
        if elapsed >= MIN_ARM_S:
            return passes * frames / elapsed


def bare_fps(model, inputs: list, frames: int) -> float:
    """Frames/s of the model's `infer` alone on inputs it has already preprocessed."""
    def once() -> None:
        for each in inputs:
            model.infer(each)

    return timed_fps(once, frames)


def served_fps(model, frames: list[np.ndarray]) -> float:
    """Frames/s of `handle` (preprocess, infer at `batch`, postprocess) on decoded frames."""
    return timed_fps(lambda: model.handle(frames), len(frames))


def run_rounds(tagger, models: dict, recorded: dict[str, list[np.ndarray]], path: Path, present: tuple[str, ...],
               rounds: int = ROUNDS) -> dict:
    """`rounds` rounds of every arm (jobs, then each model bare and served), the order reversed every
    other round."""
    arms: list[tuple[str, str]] = [("job", name) for name in job_arms(present)]
    arms += [(kind, f) for f in present for kind in ("bare", "served")]
    inputs = {f: [models[f].preprocess(c) for c in chunks(recorded[f], models[f].batch)] for f in present}
    runs: dict[str, list] = {f"{kind} {name}": [] for kind, name in arms}
    for rnd in range(rounds):
        for kind, name in (arms if rnd % 2 == 0 else arms[::-1]):
            if kind == "job":
                row = job(tagger, models, path, job_arms(present)[name])
                row.pop("_result")
                runs[f"job {name}"].append(row)
            elif kind == "bare":
                runs[f"bare {name}"].append(bare_fps(models[name], inputs[name], len(recorded[name])))
            else:
                runs[f"served {name}"].append(served_fps(models[name], recorded[name]))
        print(f"round {rnd + 1}/{rounds} done", flush=True)
    return runs


JOB_KEYS = ("wall_s", "worker_cpu_s", "ffmpeg_cpu_s", "cpu_s", "cpu_s_per_video_s")


def job_medians(rows: list[dict]) -> dict:
    """Medians of a job arm's rounds, and each model's frames/s (frames / infer_s) in it."""
    med = {k: round(median([r[k] for r in rows]), 4) for k in JOB_KEYS}
    med["frames_decoded"] = rows[0]["frames_decoded"]
    med["models"] = {f: {"frames": t["frames"], "infer_s": round(median([r["models"][f]["infer_s"] for r in rows]), 4),
                         "fps": round(median([r["models"][f]["frames"] / max(r["models"][f]["infer_s"], 1e-9) for r in rows]), 2)}
                     for f, t in rows[0]["models"].items()}
    return med


def per_model(runs: dict, jobs: dict, present: tuple[str, ...], recorded: dict, models: dict) -> dict:
    """Part 1: bare, served and in-job frames/s of each model, and the ratios."""
    all_arm = "+".join((LABELS, *present))
    out = {}
    for f in present:
        rates = ratio_summary(runs[f"served {f}"], runs[f"bare {f}"])
        in_job = jobs[all_arm]["models"][f]["fps"]
        out[f] = {"model": models[f].ref, "runtime": models[f].runtime, "batch": models[f].batch,
                  "frame_spec": models[f].spec.as_dict(), "frames": len(recorded[f]),
                  "frame_size": list(recorded[f][0].shape[:2]) if recorded[f] else None, **rates,
                  "job_fps": in_job, "job_over_bare": round(in_job / rates["bare_fps_median"], 3)}
    return out


def shared_saving(jobs: dict, present: tuple[str, ...]) -> dict:
    """Part 3: one decode for all features against one decode per model (the sums of the arms)."""
    shared = jobs["+".join((LABELS, *present))]
    alone = [jobs[LABELS], *(jobs[f] for f in present)]
    separate = {k: round(sum(j[k] for j in alone), 3) for k in ("cpu_s", "wall_s", "ffmpeg_cpu_s", "worker_cpu_s")}
    return {"shared": {k: shared[k] for k in separate}, "separate": separate,
            "cpu_ratio": round(separate["cpu_s"] / shared["cpu_s"], 3),
            "wall_ratio": round(separate["wall_s"] / shared["wall_s"], 3),
            "ffmpeg_ratio": round(separate["ffmpeg_cpu_s"] / max(shared["ffmpeg_cpu_s"], 1e-9), 3)}


def plot(jobs: dict, saving: dict, duration: float, rounds: int, path: Path) -> None:
    """Stacked bars of CPU-s per video-second (worker, ffmpeg) by feature set, and the four
    separate decodes beside the shared one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in jobs if n.startswith(LABELS)]
    worker = [jobs[n]["worker_cpu_s"] / duration for n in names]
    ffmpeg = [jobs[n]["ffmpeg_cpu_s"] / duration for n in names]
    names.append("each model\ndecoding alone")
    worker.append(saving["separate"]["worker_cpu_s"] / duration)
    ffmpeg.append(saving["separate"]["ffmpeg_cpu_s"] / duration)
    labels = [n.replace("+", "\n+") if "\n" not in n else n for n in names]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.bar(labels, worker, label="worker (models, conversion)", color="#4c72b0")
    ax.bar(labels, ffmpeg, bottom=worker, label="ffmpeg (decode)", color="#dd8452")
    for i, (w, d) in enumerate(zip(worker, ffmpeg, strict=True)):
        ax.text(i, w + d, f"{w + d:.2f}", ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("CPU-seconds per video-second")
    ax.set_title(f"Features on a {duration:g}-s 720p H.264 clip (median of {rounds}, 1 thread per model)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def rows_for(report: dict) -> list[tuple[str, str, str]]:
    jobs, duration = report["jobs"], report["clip"]["duration_s"]
    labels_cost = jobs[LABELS]["cpu_s_per_video_s"]
    rows = []
    if report.get("saving"):
        s = report["saving"]
        rows.append(("**shared decode: CPU-s, each model decoding alone / all on one decode**", f"**{s['cpu_ratio']}x**",
                     f"{s['separate']['cpu_s']:.1f} vs {s['shared']['cpu_s']:.1f} CPU-s (ffmpeg {s['separate']['ffmpeg_cpu_s']:.1f} "
                     f"vs {s['shared']['ffmpeg_cpu_s']:.1f}); wall {s['separate']['wall_s']:.1f} vs {s['shared']['wall_s']:.1f} s "
                     f"({s['wall_ratio']}x); {report['rounds']} rounds, medians"))
    for name, j in jobs.items():
        if not name.startswith(LABELS):
            continue
        extra = "" if name == LABELS else f"; +{j['cpu_s_per_video_s'] - labels_cost:.3f} over labels"
        rows.append((f"CPU-s per video-s, {name}", f"{j['cpu_s_per_video_s']:.3f}",
                     f"ffmpeg {j['ffmpeg_cpu_s'] / duration:.3f} + worker {j['worker_cpu_s'] / duration:.3f}{extra}; "
                     f"wall {j['wall_s']:.1f} s for {duration:g} s of video"))
    for name, j in jobs.items():
        if not name.startswith(LABELS):
            rows.append((f"CPU-s per video-s, {name} alone (own decode, no labels)", f"{j['cpu_s_per_video_s']:.3f}",
                         f"ffmpeg {j['ffmpeg_cpu_s'] / duration:.3f} + worker {j['worker_cpu_s'] / duration:.3f}; "
                         f"wall {j['wall_s']:.1f} s"))
    for f, m in report["per_model"].items():
        rows.append((f"{f} ({m['model']}, {m['runtime']}, batch {m['batch']}): frames/s served / bare",
                     f"{m['ratio']}x",
                     f"bare {m['bare_fps_median']:.1f}, served {m['served_fps_median']:.1f}, in a job {m['job_fps']:.1f} "
                     f"({m['job_over_bare']}x bare) frames/s; {m['frames']} frames of "
                     f"{m['frame_size'][1]}x{m['frame_size'][0]} at {m['frame_spec']['fps']:g} fps; paired "
                     f"{m['paired_ratio_range'][0]}-{m['paired_ratio_range'][1]}"))
    for f, why in report["missing"].items():
        rows.append((f"{f}", "not measured", f"model missing: {why[:120]}"))
    return rows


def found_line(found: dict) -> str:
    """What the all-features job found, in words."""
    parts = [f"tags {', '.join(found['tags']) or 'none'}"]
    for feature in (PEOPLE, FACES):
        if feature in found:
            seen = ", ".join(f"{a:g}-{b:g} s" for a, b in found[feature]["seen"]) or "never"
            parts.append(f"{feature} at most {found[feature]['max_count']} at once, seen {seen}")
    if TEXT in found:
        parts.append("text read: " + "; ".join(f"\"{t}\"" for t in found[TEXT]))
    return "; ".join(parts)


def saving_line(saving: dict | None) -> str:
    """Where the shared decode's saving comes from: ffmpeg's work, not the models'."""
    if not saving:
        return ""
    return (f" One decode instead of one per model cuts ffmpeg's CPU {saving['ffmpeg_ratio']}x; the models' own work "
            f"({saving['shared']['worker_cpu_s']:.1f} vs {saving['separate']['worker_cpu_s']:.1f} CPU-s in the worker) "
            f"stays, so the whole job's saving is as large as the decode's share of it.")


def notes(report: dict) -> str:
    found_text = found_line(report["found"])
    return (f"One run, {report['wall_s']:.0f} s wall, {report['cpus']} CPUs shared with other work (load average "
            f"{report['load_average']:.1f} at the start); TORCH_THREADS={report['threads']} (each model one intra-op "
            f"thread), DECODE_MODE={report['decode_mode']}. The clip: {report['clip']['shots']} shots of "
            f"{SHOT_S:g} s at {WIDTH}x{HEIGHT} (H.264, 25 fps, slow zoom): four of package-shipped photos with people "
            f"and faces, four title cards in Pillow's font over real photos (`models.build.eval_media`). Each job arm is a "
            f"real job (shots on), CPU from getrusage (this process + its ffmpeg); every arm ran {report['rounds']} "
            f"times, the order reversed every other round, medians quoted. Bare: the model's `infer` alone on "
            f"frames a job decoded for it, already preprocessed; served: `handle` on the same frames; in a job: its "
            f"`timings.models` (frames / infer_s) in the all-features job, with ffmpeg decoding beside it. The "
            f"separate decodes each run their own ffmpeg (and shot scan); the labels-free ones still decode at the "
            f"tagger's grid.{saving_line(report.get('saving'))} What the all-features job found: {found_text}.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_features", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=get_settings().TAGGER_MODEL)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of every arm (medians over them)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = get_settings()
    report = {"cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2), "threads": settings.TORCH_THREADS,
              "decode_mode": settings.DECODE_MODE, "rounds": args.rounds}
    tagger = service(args.model)
    models, missing = load_frame_models()
    present = tuple(f for f in FEATURES if f in models)
    report.update(tagger=tagger.ref, missing=missing, present=list(present))
    if missing:
        print(f"frame models missing, their rows skipped: {', '.join(missing)}", flush=True)
        for why in missing.values():
            print(f"  {why}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
        path = make_clip(Path(tmp))
        recorders = {f: Recorder(models[f]) for f in present}
        warm = job(tagger, recorders, path, (LABELS, *present))  # warm-up; records each model's frames
        recorded = {f: r.frames for f, r in recorders.items()}
        report["clip"] = {"duration_s": warm["duration_s"], "shots": len(SHOTS), "size": [WIDTH, HEIGHT],
                          "frames_decoded": warm["frames_decoded"]}
        report["found"] = found(warm["_result"])
        report["setup_s"] = round(time.perf_counter() - started, 1)
        print("setup", report["setup_s"], "s; found", report["found"], flush=True)
        runs = run_rounds(tagger, models, recorded, path, present, args.rounds)
    report["runs"] = runs
    report["jobs"] = {name[len("job "):]: job_medians(rows) for name, rows in runs.items() if name.startswith("job ")}
    report["per_model"] = per_model(runs, report["jobs"], present, recorded, models)
    report["saving"] = shared_saving(report["jobs"], present) if present else None
    report["wall_s"] = round(time.perf_counter() - started, 1)
    if present:
        plot(report["jobs"], report["saving"], report["clip"]["duration_s"], args.rounds, RESULTS / "features.png")
    write("features", report, rows_for(report),
          f"Several models on one decode (`{report['tagger']}` + {', '.join(present) or 'no frame model'}, CPU, in process)",
          notes(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
