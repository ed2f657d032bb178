"""The video tagger as served: artifact loader, inference, timeline and merge (imports torch)."""
