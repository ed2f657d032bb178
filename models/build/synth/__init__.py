"""Labeled synthetic videos: scenes painted with numpy, encoded to H.264 mp4 by ffmpeg.

Used to train and evaluate the video tagger and by tests; see `python -m models.build.synth --help`.
"""

from models.build.synth.clip import make_clip
from models.build.synth.scenes import GroundTruth, Scene, random_scene, random_scenes
from models.build.synth.tags import ALL_TAGS, TAG_GROUPS

__all__ = ["ALL_TAGS", "TAG_GROUPS", "GroundTruth", "Scene", "make_clip", "random_scene", "random_scenes"]
