"""The worker runtime: everything a Celery worker of Brigade does besides running its tasks.

The Celery app, its queues and the table of work (`celery_app`, `queues`, `work`), which the API
imports too, to send by name; and, loaded only by a worker (through `work.WORKER_ENTRY`), its
life cycle: who the process is (`identity`), its heartbeats and readiness (`heartbeat`), the
warm-up of its models (`warmup`), the messages it holds (`tracking`), the redelivery of a dead
replica's work (`reaper`), the chores (`chores`, `reconcile`), the standby shard watcher
(`standby`), the backlog autoscaler (`autoscale`, `forecast`), the ack fix (`kombu_acks`) and the
liveness probe (`python -m worker.alive`). `steps` holds the Celery bootsteps of the worker's
main process, `hooks` the per-pool-process signal hooks, and `entry` registers both.

Imports: `brigade`, and `models` only inside the warm-up's functions. Never a task module of
`tasks/`: the table of work names them as strings (Celery's `include`), so the API, which
imports this package's app and table, never imports torch.
"""
