"""`make chaos`: faults and abuse against a real stack of the suite's own (a private Redis with AOF on,
predict replicas, shard workers, the control worker, the autoscaled events pool, the API), with the
synthetic tagger and generated clips. Each phase records what it injected and what happened; the
report (bench/results/chaos.json and chaos.md, the README's "Chaos and abuse" section) counts jobs
accepted, succeeded, failed (by reason) and lost, hostile inputs refused (by status), fuzz cases and
every 5xx. `python -m devtools.chaos --help`."""
