"""Which hosts the cluster has and their addresses: a `Size` (hosts per role) laid out on the /24.

Each role owns a block of ten addresses (redis .11-.19, lb .21, api .31-.39, ...), so a host's
address says its role at a glance and adding a host never moves another."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields

#: Roles in start order: the data layer first, the load balancer, then what uses Redis.
ROLES = ("redis", "lb", "api", "predict", "shard", "control", "events")
BLOCK = 10  # addresses per role: role i's hosts are .(10*(i+1)+1) onwards


@dataclass(frozen=True)
class Size:
    """Hosts per role. Small numbers on purpose: every host is a few processes of this machine."""

    redis: int = 3
    lb: int = 1
    api: int = 3
    predict: int = 2
    shard: int = 2
    control: int = 1
    events: int = 1

    def __post_init__(self):
        if self.redis < 3:
            raise ValueError("the cluster needs 3 Redis hosts at least: Sentinel's quorum of 2 must survive losing one")
        if self.api and not self.lb:
            raise ValueError("API hosts are reached through the load balancer: give the cluster an lb host")
        for f in fields(self):
            if not 0 <= getattr(self, f.name) < BLOCK:
                raise ValueError(f"{f.name}: between 0 and {BLOCK - 1} hosts")


#: `full`: every kind of process on its own host(s). `smoke`: the least that serves a request
#: through the load balancer (CI). `data`: the Redis/Sentinel layer alone.
SIZES = {
    "full": Size(),
    "smoke": Size(api=2, predict=1, shard=0, control=0, events=0),
    "data": Size(lb=0, api=0, predict=0, shard=0, control=0, events=0),
}


@dataclass(frozen=True)
class Host:
    name: str  # redis1, lb1, api2, ...
    role: str
    ip: str


def layout(size: Size, network: ipaddress.IPv4Network) -> list[Host]:
    """The hosts of `size`, in start order, each with its address in `network`."""
    hosts = []
    for index, role in enumerate(ROLES):
        for n in range(1, getattr(size, role) + 1):
            hosts.append(Host(f"{role}{n}", role, str(network.network_address + BLOCK * (index + 1) + n)))
    return hosts
