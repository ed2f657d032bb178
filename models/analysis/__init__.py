"""A video's analysis beyond the tagger: the per-frame models (people, faces, text) on the job's
one decode (`run`), and what a client sees of their findings (`summary`)."""
