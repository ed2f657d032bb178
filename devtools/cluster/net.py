"""The cluster's network: one Linux network namespace per host, each with its own address on one
bridge, in a test /24 that the harness creates and removes.

Why namespaces: each host gets its own IP stack (its own ports, its own loopback) and its own
cable, so a host can be cut off (`link(..., up=False)`: the bridge drops whatever it sends and
whatever is sent to it, as a pulled cable or a dead switch port would) while its processes keep
running; a few hosts can be cut off together (`island`: their cables moved to a second bridge).
The namespaces have no default route: a process in the cluster can reach the cluster's addresses
and its own loopback, nothing else. The root namespace reaches them over the bridge,
which holds the subnet's first address.

Every name the harness makes starts with PREFIX, so a run that crashed leaves nothing that the
next run's `remove_stale()` cannot find and remove (it also ends the processes still inside).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess

PREFIX = "brg-"
BRIDGE = PREFIX + "br0"
ISLAND = PREFIX + "br1"  # a second bridge: hosts moved onto it reach one another and nothing else
SUBNET_ENV = "BRIGADE_CLUSTER_SUBNET"
DEFAULT_SUBNET = "10.213.18.0/24"
IFNAME_MAX = 15  # Linux's IFNAMSIZ less the terminating NUL
ROUTE_TYPES = {"unicast", "local", "broadcast", "multicast", "unreachable", "blackhole", "prohibit", "throw", "nat", "anycast"}


class NetUnavailable(RuntimeError):
    """Namespaces cannot be made here (not root, no `ip`, a kernel without them): the message says why."""


def ip(*args: str) -> str:
    """Run `ip ARGS`; its output. RuntimeError with ip's own message when it fails."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")
    return done.stdout


def preflight() -> None:
    """Fail clearly, before anything is made, where namespaces cannot be: never a silent skip."""
    if os.geteuid() != 0:
        raise NetUnavailable("the cluster harness makes network namespaces and a bridge: it must run as root")
    if shutil.which("ip") is None:
        raise NetUnavailable("the cluster harness needs `ip` (iproute2): apt-get install iproute2")
    probe = PREFIX + "probe"
    try:
        ip("netns", "add", probe)
    except RuntimeError as exc:
        raise NetUnavailable(f"cannot make a network namespace here: {exc}") from exc
    ip("netns", "delete", probe)


def subnet() -> ipaddress.IPv4Network:
    """The test /24: BRIGADE_CLUSTER_SUBNET, else DEFAULT_SUBNET. It must be private and hold no
    address or route this machine already has (call after remove_stale(), or a crashed run's
    bridge looks like a collision)."""
    raw = os.environ.get(SUBNET_ENV) or DEFAULT_SUBNET
    try:
        net = ipaddress.IPv4Network(raw, strict=True)
    except ValueError as exc:
        raise NetUnavailable(f"{SUBNET_ENV}={raw!r} is not an IPv4 network: {exc}") from exc
    if net.prefixlen != 24 or not net.is_private:
        raise NetUnavailable(f"{SUBNET_ENV}={raw!r}: the cluster needs a private /24 (e.g. {DEFAULT_SUBNET})")
    taken = collisions(net, ip("-4", "-o", "addr", "show"), ip("-4", "route", "show", "table", "all"))
    if taken:
        raise NetUnavailable(f"the cluster subnet {net} collides with this machine's {', '.join(taken)}; "
                             f"choose a free /24 with {SUBNET_ENV}=10.x.y.0/24")
    return net


def collisions(net: ipaddress.IPv4Network, addr_out: str, route_out: str) -> list[str]:
    """The addresses and routes of `ip -4 -o addr` / `ip -4 route` output that overlap `net`
    (a default route does not count: the cluster's more specific route wins over it)."""
    found = []
    for line in addr_out.splitlines():
        words = line.split()
        if "inet" in words:
            iface = ipaddress.IPv4Interface(words[words.index("inet") + 1])
            if iface.network.overlaps(net):
                found.append(f"address {iface} on {words[1]}")
    for line in route_out.splitlines():
        words = line.split()
        if words and words[0] in ROUTE_TYPES:
            words = words[1:]
        if not words or words[0] == "default":
            continue
        try:
            route = ipaddress.IPv4Network(words[0], strict=False)
        except ValueError:
            continue
        if route.overlaps(net):
            found.append(f"route {line.strip()}")
    return found


def namespaces() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def links() -> list[str]:
    """The root namespace's network interfaces (a veth's `@peer` suffix dropped)."""
    return [line.split(":")[1].strip().split("@")[0] for line in ip("-o", "link", "show").splitlines()]


def kill_inside(netns: str) -> None:
    """SIGKILL every process in `netns` (a hard loss: nothing gets to close a connection)."""
    for pid in ip("netns", "pids", netns).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def remove_stale() -> list[str]:
    """Remove what an earlier run left (namespaces with their processes, links): all PREFIX-named.
    Returns what it removed."""
    removed = []
    for netns in namespaces():
        if netns.startswith(PREFIX):
            kill_inside(netns)
            ip("netns", "delete", netns)
            removed.append(f"namespace {netns}")
    for name in links():
        if name.startswith(PREFIX) and name in links():  # a cable goes with its namespace, in a while
            try:
                ip("link", "delete", name)
            except RuntimeError:
                if name in links():
                    raise
            removed.append(f"link {name}")
    return removed


class Net:
    """The bridge and one namespace per host. `add_host(name, address)` makes namespace and root-side
    cable both named PREFIX+name; the host's own end is its `eth0`."""

    def __init__(self, network: ipaddress.IPv4Network):
        self.network = network
        self.bridge_ip = str(network.network_address + 1)
        self.hosts: list[str] = []

    @staticmethod
    def netns(name: str) -> str:
        return PREFIX + name

    def up(self) -> None:
        ip("link", "add", BRIDGE, "type", "bridge")
        ip("addr", "add", f"{self.bridge_ip}/{self.network.prefixlen}", "dev", BRIDGE)
        ip("link", "set", BRIDGE, "up")

    def add_host(self, name: str, address: str) -> str:
        netns = self.netns(name)
        if len(netns) > IFNAME_MAX:
            raise ValueError(f"host name {name!r} is too long: {netns!r} must fit in {IFNAME_MAX} characters")
        ip("netns", "add", netns)
        self.hosts.append(name)
        ip("link", "add", netns, "type", "veth", "peer", "name", "eth0", "netns", netns)
        ip("link", "set", netns, "master", BRIDGE, "up")
        ip("-n", netns, "addr", "add", f"{address}/{self.network.prefixlen}", "dev", "eth0")
        ip("-n", netns, "link", "set", "eth0", "up")
        ip("-n", netns, "link", "set", "lo", "up")
        return netns

    def link(self, name: str, up: bool) -> None:
        """The host's cable in (up) or out (down): its bridge port, so packets to and from it are
        dropped without a word, as across a real partition (no reset, no 'unreachable')."""
        ip("link", "set", self.netns(name), "up" if up else "down")

    def island(self, names: list[str], reach: list[str]) -> None:
        """Split the network: the hosts' cables onto a bridge of their own (ISLAND), so they reach one
        another and nothing on the main bridge, as the two sides of a partition. The root namespace
        keeps a path to the addresses in `reach` (host routes over ISLAND, from the same bridge
        address), as a client on the island's side would."""
        ip("link", "add", ISLAND, "type", "bridge")
        ip("addr", "add", f"{self.bridge_ip}/32", "dev", ISLAND)
        ip("link", "set", ISLAND, "up")
        for name in names:
            ip("link", "set", self.netns(name), "master", ISLAND)
        for address in reach:
            ip("route", "add", f"{address}/32", "dev", ISLAND, "src", self.bridge_ip)

    def rejoin(self, names: list[str]) -> None:
        """The island's hosts back on the main bridge; the island bridge (and its routes) removed."""
        for name in names:
            ip("link", "set", self.netns(name), "master", BRIDGE)
        if ISLAND in links():
            ip("link", "delete", ISLAND)

    def kill_all(self, name: str) -> None:
        kill_inside(self.netns(name))

    def down(self) -> None:
        """Every process in the hosts' namespaces killed, the namespaces (and their cables) and the
        bridge removed. Safe to call twice."""
        for name in self.hosts:
            netns = self.netns(name)
            if netns in namespaces():
                kill_inside(netns)
                ip("netns", "delete", netns)
        self.hosts.clear()
        for bridge in (ISLAND, BRIDGE):
            if bridge in links():
                ip("link", "delete", bridge)
