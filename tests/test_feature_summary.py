"""What a client sees of people, faces and text (models/analysis/summary.py), and the merge of a
sharded job's samples: pure logic on hand-made samples."""

from __future__ import annotations

import pytest

from brigade.features import DEFAULT, FeatureError, parse_features
from models.analysis.summary import edit_distance, summarize_counts, summarize_text, with_features
from models.tagger.merge import merged_detections, summed_timings

pytestmark = pytest.mark.unit


def read(text: str, score: float = 0.9, box=(0.1, 0.1, 0.5, 0.2)) -> dict:
    return {"box": list(box), "score": score, "text": text}


def person(score: float = 0.8) -> dict:
    return {"box": [0.2, 0.1, 0.4, 0.9], "score": score}


def samples(*rows) -> list[dict]:
    return [{"t": float(t), "found": list(found)} for t, found in rows]


def test_features_parse_in_a_fixed_order_without_duplicates():
    assert parse_features("text, People,labels,text") == ("labels", "people", "text")
    assert parse_features(None) == parse_features("") == DEFAULT == ("labels",)
    assert parse_features(["faces"]) == ("faces",)
    with pytest.raises(FeatureError, match="objects"):
        parse_features("labels,objects")


def test_counts_give_the_most_at_once_and_when_anyone_is_on_screen():
    raw = {"period": 1.0, "samples": samples((0, []), (1, [person()]), (2, [person(), person(0.7)]), (3, []), (4, [person()]))}
    out = summarize_counts(raw, end=4.5)
    assert out["max_count"] == 2
    assert out["sampled"] == 5
    assert out["seen"] == [[1.0, 3.0], [4.0, 4.5]]  # touching samples joined, the last clipped at the end
    assert [row["count"] for row in out["samples"]] == [0, 1, 2, 0, 1]
    assert out["samples"][2]["boxes"][1] == [0.2, 0.1, 0.4, 0.9, 0.7]


def test_a_title_read_on_several_frames_is_one_entry_with_its_time_range():
    raw = {"period": 2.0, "samples": samples((0, [read("BRIGADE PICTURES", 0.95)]), (2, [read("BRIGADE PICTURES", 0.97)]),
                                              (4, [read("BRIGADE PlCTURES", 0.6)]), (6, []), (8, [read("THE END")]))}
    out = summarize_text(raw, end=9.0)
    assert [e["text"] for e in out] == ["BRIGADE PICTURES", "THE END"]
    assert out[0]["ranges"] == [[0.0, 6.0]]  # the misread frame counts as the same title
    assert out[0]["reads"] == 3 and out[0]["confidence"] == 0.97
    assert out[1]["ranges"] == [[8.0, 9.0]]


def test_a_title_shown_again_later_adds_a_range_and_different_strings_stay_apart():
    raw = {"period": 1.0, "samples": samples((0, [read("SCENE 12"), read("TAKE 3", box=(0.1, 0.5, 0.3, 0.6))]),
                                              (5, [read("scene  12")]))}
    out = summarize_text(raw)
    assert [e["text"] for e in out] == ["SCENE 12", "TAKE 3"]
    assert out[0]["ranges"] == [[0.0, 1.0], [5.0, 6.0]]
    assert out[0]["reads"] == 2


def test_empty_reads_are_not_text():
    assert summarize_text({"period": 1.0, "samples": samples((0, [read("  ")]))}) == []


def test_edit_distance():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == edit_distance("abc", "") == 3
    assert edit_distance("same", "same") == 0


def test_people_add_person_to_the_tags_unless_the_tagger_said_so():
    raw = {"people": {"period": 1.0, "samples": samples((0, [person(0.9)]), (1, [person(0.6)]), (2, []))}}
    summary = {"tags": [{"label": "Outdoor", "score": 0.7, "covered_s": 3.0, "parents": []}], "scores": {"Outdoor": 0.7},
               "timeline": {"Outdoor": [[0.0, 3.0]]}, "shots": []}
    out = with_features(summary, raw, [0.0, 3.0])
    assert [t["label"] for t in out["tags"]] == ["Person", "Outdoor"]
    assert out["timeline"]["Person"] == [[0.0, 2.0]] and out["scores"]["Person"] == 0.9
    tagged = {**summary, "tags": [*summary["tags"], {"label": "Person", "score": 0.5, "covered_s": 3.0, "parents": []}]}
    assert with_features(tagged, raw, [0.0, 3.0])["tags"] == tagged["tags"]
    nobody = {"people": {"period": 1.0, "samples": samples((0, []))}}
    assert [t["label"] for t in with_features(summary, nobody, [0.0, 3.0])["tags"]] == ["Outdoor"]
    assert with_features(summary, None, [0.0, 3.0]) is summary


def test_segments_merge_into_the_whole_videos_samples_once():
    first = {"detections": {"text": {"period": 2.0, "samples": samples((0, [read("A B C")]), (2, [read("A B C")]))}}}
    second = {"detections": {"text": {"period": 2.0, "samples": samples((4, [read("A B C")]), (6, []))}}}
    again = {"detections": {"text": {"period": 2.0, "samples": samples((4, [read("A B C")]))}}}  # a redelivered segment
    merged = merged_detections([first, second, again])
    assert [s["t"] for s in merged["text"]["samples"]] == [0.0, 2.0, 4.0, 6.0]
    assert summarize_text(merged["text"])[0]["ranges"] == [[0.0, 6.0]]  # one range across the boundary at 4 s


def test_segment_timings_add_up_per_model():
    parts = [{"decode_s": 1.0, "infer_s": 0.5, "frames_decoded": 10, "frames_sampled": 5, "decode_mode": "sampled",
              "models": {"text": {"infer_s": 0.25, "frames": 2}}},
             {"decode_s": 1.0, "infer_s": 0.5, "frames_decoded": 10, "frames_sampled": 5, "decode_mode": "sampled",
              "models": {"text": {"infer_s": 0.5, "frames": 3}}}]
    assert summed_timings(parts)["models"] == {"text": {"infer_s": 0.75, "frames": 5}}
    assert "models" not in summed_timings([{k: v for k, v in parts[0].items() if k != "models"}])
