"""`python -m devtools.compose_check [--no-build] [--keep]`: see the package's docstring. Prints
each step with what it saw; exits 1 when a step fails (the steps after it are listed as not run),
2 when it cannot run here (not root). Whatever happens, the stack is taken down and a dockerd it
started is stopped (`--keep`: both are left running, to look around)."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from brigade.settings import ROOT
from devtools import run_stack
from devtools.compose_check import checks, standins, wheels
from devtools.compose_check.engine import DATA_ROOT, Engine, lower_priority
from devtools.compose_check.stack import Stack

WORK = ROOT / "var" / "compose-check"
HEALTHY_TIMEOUT_S = 1800
STEPS = ["engine", "base images", "torch wheel", "machine", "build", "clips", "up", "secrets per container",
         "hotel", "short video", "features", "sharded video, worker killed", "redis stop"]


class Run:
    """Prints each step as it ends, with its lines and its time."""

    def __init__(self):
        self.began = time.monotonic()
        self.done: list[str] = []

    def step(self, name: str, action) -> None:
        print(f"\n[compose-check +{time.monotonic() - self.began:.0f}s] {name} ...", flush=True)
        started = time.monotonic()
        lines = action()
        for line in lines:
            print(f"  {line}", flush=True)
        print(f"  ({name}: {time.monotonic() - started:.0f} s)", flush=True)
        self.done.append(name)


SHORT_CLIP, FILM = run_stack.VAR / "sample-reel.mp4", WORK / "photo-film.mp4"
#: The evaluation clips (`models.build.eval_media`) the features step sends: people and faces, text.
FEATURE_CLIP_NAMES = ("people-faces", "text-zoom")


def feature_clips() -> list[Path]:
    """The features step's clips, built once into WORK and found there after."""
    from models.build.eval_media import CLIPS, build_clip

    return [build_clip(CLIPS[name], WORK / "eval-media").path for name in FEATURE_CLIP_NAMES]


def make_clips() -> list[str]:
    """`make run`'s 12-s reel of photographs (what the tagger should see in it is plain), a
    10-minute film of the same photographs, 20 s each, which the planner cuts into segments, and
    the evaluation clips of people and faces and of title cards (the features step)."""
    from models.build.photos import make_concat_clip

    run_stack.sample_clip()
    if not FILM.exists():
        make_concat_clip(FILM, list(run_stack.SAMPLE_PHOTOS) * 10, seconds_each=20.0, fps=10)
    return [f"{p.name}: {p.stat().st_size / 1e6:.1f} MB" for p in (SHORT_CLIP, FILM, *feature_clips())]


def machine() -> list[str]:
    load = os.getloadavg()
    lines = [f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs; "
             f"{shutil.disk_usage(DATA_ROOT.parent).free / 1e9:.0f} GB free under {DATA_ROOT.parent}"]
    if load[0] > (os.cpu_count() or 1):
        lines.append("the machine is busy: every step runs at the lowest priority and will take longer")
    return lines


def disk_usage() -> str:
    du = subprocess.run(["du", "-sh", str(DATA_ROOT)], capture_output=True, text=True)
    return f"{DATA_ROOT}: {du.stdout.split()[0] if du.returncode == 0 else 'n/a'} (the engine's images; delete the folder to free it)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.compose_check", description=__doc__)
    parser.add_argument("--no-build", action="store_true", help="use the images of an earlier run")
    parser.add_argument("--keep", action="store_true", help="leave the stack and the engine running")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("make compose-check runs as root (it may install packages, start dockerd, kill a container's process)")
        return 2
    lower_priority()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a `kill`: still take the stack down (finally)
    WORK.mkdir(parents=True, exist_ok=True)
    run, engine = Run(), Engine(WORK)
    stack, index, ok = None, None, False
    try:
        run.step("engine", lambda: [engine.start()])
        run.step("base images", lambda: standins.ensure(engine, WORK))
        url, index, said = wheels.torch_index(WORK)
        run.step("torch wheel", lambda: [said])
        run.step("machine", machine)
        stack = Stack(engine, WORK, url)
        run.step("build", (lambda: ["skipped (--no-build)"]) if args.no_build else stack.build)
        run.step("clips", make_clips)
        run.step("up", lambda: stack.up(HEALTHY_TIMEOUT_S))
        run.step("secrets per container", stack.secrets_by_container)
        run.step("hotel", lambda: checks.hotel(stack))
        run.step("short video", lambda: checks.short_video(stack, SHORT_CLIP))
        run.step("features", lambda: checks.features(stack, *feature_clips()))
        run.step("sharded video, worker killed", lambda: checks.sharded_video_with_a_killed_worker(stack, FILM))
        run.step("redis stop", lambda: checks.stop_redis(stack))
        ok = True
    except Exception:
        traceback.print_exc()
        if stack is not None:
            print("\n[compose-check] the stack at the failure:", flush=True)
            for c in stack.containers():
                print(f"  {c['Service']}: {c['State']} {c.get('Health', '')} {c.get('Status', '')}")
    finally:
        if args.keep:
            print(f"\n[compose-check] left running (--keep); DOCKER_HOST={engine.env.get('DOCKER_HOST', '(default)')}")
        else:
            if stack is not None:
                print(f"\n[compose-check] {stack.down()}")
            if index is not None:
                index.stop()
            print(f"[compose-check] {engine.stop() or 'the engine was already running: left as it was'}")
        print(f"[compose-check] {disk_usage()}")
    not_run = [name for name in STEPS if name not in run.done]
    print(f"\n[compose-check] {'PASSED' if ok else 'FAILED'} in {time.monotonic() - run.began:.0f} s; "
          f"steps done: {', '.join(run.done) or 'none'}" + (f"; not run: {', '.join(not_run)}" if not_run else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
