"""Brigade on a cluster of hosts on one machine: each host a Linux network namespace with its own
address on one bridge (issue 18, "Beyond one machine"). `make cluster` starts one
(`python -m devtools.cluster`); the chaos suite and bench/bench_lb.py drive `Cluster`.

* net.py: namespaces, the bridge, each host's cable; the test subnet; removing a crashed run's leftovers
* topology.py: hosts per role (`Size`, `SIZES`) and their addresses
* redis_ha.py: the data layer, Redis replicated and watched by Sentinel
* haproxy.py: the load balancer's config and its statistics
* cluster.py: `Cluster`, which starts and stops it all and injects the faults
"""

from devtools.cluster.cluster import Cluster
from devtools.cluster.haproxy import Balance
from devtools.cluster.topology import SIZES, Size

__all__ = ["Balance", "Cluster", "SIZES", "Size"]
