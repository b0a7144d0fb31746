"""A simulated host: a network namespace of its own, joined to this machine by a veth pair.

Processes started through ``NetworkHost.wrap`` see only the namespace's interfaces (its own
loopback, its own ports) and run under the host's own hostname (a UTS namespace). The shared
servers listen on this machine's 127.0.0.1, which a namespace cannot reach; ``forward``
starts a ``socat`` on this machine's end of the veth that relays one port to them, so a
host reaches PostgreSQL and the broker over its network link, as a second machine would.

Needs root, iproute2 and socat; ``network_hosts_unavailable`` says why not when one is
missing. Namespaces and links are named with a random tag and removed by ``close``.
"""

import contextlib
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from tests.support.processes import ManagedProcess
from tests.support.services import port_open
from tests.support.waiting import wait_until

UPSTREAM = "127.0.0.1"


def network_hosts_unavailable() -> str | None:
    """None when namespaces and forwarders can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "unshare", "socat"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class NetworkHost:
    """One namespace named ``hostname`` with a random tag; ``inner`` is its address, ``outer``
    this machine's end of the link (where its forwarders listen), both in ``10.213.<subnet>.0/30``:
    give every host of a test its own ``subnet``."""

    def __init__(self, hostname: str, directory: Path, subnet: int) -> None:
        tag = secrets.token_hex(3)
        self._tag = tag
        self.hostname = hostname
        self.directory = directory
        self.namespace = f"of-{hostname}-{tag}"
        self._outer_link = f"of{tag}o"
        self.outer = f"10.213.{subnet}.1"
        self.inner = f"10.213.{subnet}.2"
        self._forwarders: list[ManagedProcess] = []
        self._made = False

    def create(self) -> "NetworkHost":
        _ip("netns", "add", self.namespace)
        self._made = True
        inner_link = f"of{self._tag}i"
        _ip("link", "add", self._outer_link, "type", "veth", "peer", "name", inner_link)
        _ip("link", "set", inner_link, "netns", self.namespace)
        _ip("addr", "add", f"{self.outer}/30", "dev", self._outer_link)
        _ip("link", "set", self._outer_link, "up")
        _ip("-n", self.namespace, "addr", "add", f"{self.inner}/30", "dev", inner_link)
        _ip("-n", self.namespace, "link", "set", inner_link, "up")
        _ip("-n", self.namespace, "link", "set", "lo", "up")
        return self

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the namespace under this host's hostname (exec, no extra parent,
        so signalling the process group reaches the command itself)."""
        return [
            "ip",
            "netns",
            "exec",
            self.namespace,
            "unshare",
            "--uts",
            "sh",
            "-c",
            'hostname "$0" && exec "$@"',
            self.hostname,
            *argv,
        ]

    def forward(self, port: int) -> None:
        """Relay ``outer:port`` to ``127.0.0.1:port`` on this machine (one socat per port)."""
        process = ManagedProcess(
            f"forward-{self.hostname}-{port}",
            [
                "socat",
                f"TCP-LISTEN:{port},bind={self.outer},fork,reuseaddr",
                f"TCP:{UPSTREAM}:{port}",
            ],
            env=dict(os.environ),
            cwd=self.directory,
            log_path=self.directory / f"forward-{port}.log",
        )
        self._forwarders.append(process.start())
        wait_until(
            lambda: port_open(port, self.outer),
            timeout=10,
            interval=0.05,
            what=f"socat to listen on {self.outer}:{port}",
            describe=process.tail,
        )

    def reachable_url(self, url: str) -> str:
        """``url`` with the shared servers' address replaced by this host's way to them."""
        for prefix in ("@", "//"):
            if f"{prefix}{UPSTREAM}:" in url:
                return url.replace(f"{prefix}{UPSTREAM}:", f"{prefix}{self.outer}:", 1)
        raise ValueError(f"{url!r} does not name {UPSTREAM}")

    def close(self) -> None:
        """Stop the forwarders, then remove the link and the namespace (the namespace's end of
        the link goes with it)."""
        for process in self._forwarders:
            process.kill()
        if not self._made:
            return
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", self._outer_link)
        _ip("netns", "del", self.namespace)
