"""The video tagger: network, artifact loader, inference and evaluation (imports torch)."""
