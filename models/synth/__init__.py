"""Labeled synthetic videos: scenes painted with numpy, encoded to H.264 mp4 by ffmpeg.

Used to train and evaluate the video tagger and by tests; see `python -m models.synth --help`.
"""

from models.synth.clip import make_clip
from models.synth.scenes import GroundTruth, Scene, random_scene, random_scenes
from models.synth.tags import ALL_TAGS, TAG_GROUPS

__all__ = ["ALL_TAGS", "TAG_GROUPS", "GroundTruth", "Scene", "make_clip", "random_scene", "random_scenes"]
