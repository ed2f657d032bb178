"""`python -m models.build.synth --out clip.mp4 --seed 1 --duration 10`: render a clip, print its truth."""

from __future__ import annotations

import argparse

from models.build.synth.clip import make_clip
from models.build.synth.scenes import random_scenes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m models.build.synth", description=__doc__)
    parser.add_argument("--out", required=True, help="mp4 to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=float, default=10)
    parser.add_argument("--cuts", action="store_true", help="several scenes separated by hard cuts")
    parser.add_argument("--min-scene", type=float, default=3.0, help="with --cuts: shortest scene, s")
    parser.add_argument("--max-scene", type=float, default=8.0, help="with --cuts: longest scene, s")
    args = parser.parse_args(argv)
    scenes = random_scenes(args.seed, args.duration, args.min_scene, args.max_scene) if args.cuts else None
    gt = make_clip(
        args.out, seed=args.seed, duration_s=args.duration, scenes=scenes, width=args.width, height=args.height, fps=args.fps
    )
    print(gt.to_json())


if __name__ == "__main__":
    main()
