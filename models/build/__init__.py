"""What builds the served models and measures them; never loaded by a worker.

The builds from wheels (`tagger`, `faces`, `people`, `text`), training (`train_tagger`,
`train_hotel`, `tagger_data`, `tagger_net`), generated data and photographic media (`synth`,
`hotel_market`, `photos`, `eval_media`) and the evaluations (`tagger_eval`, `photo_eval`,
`agreement`, `frame_eval`). `make model` runs them as `python -m models.build.<name>`. The serving
side (everything else under `models/`) never imports this package (`tests/test_models_layout.py`).
"""
