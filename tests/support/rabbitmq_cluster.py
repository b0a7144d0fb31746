"""A private RabbitMQ cluster: ``rabbitmq-server`` nodes on free ports, joined by the test.

Nothing is shared with the machine's RabbitMQ: each node has its own node name, ports,
database directory, config file (the system's one would bind 5672) and no plugins; the
nodes find each other through an ``epmd`` of their own on a free port, and share an
Erlang cookie kept in the cluster's directory (``HOME`` for the nodes and ``rabbitmqctl``).
Debian's ``/usr/sbin`` scripts switch to the ``rabbitmq`` user when run as root, so the
scripts they wrap (``RABBITMQ_SBIN``, default ``/usr/lib/rabbitmq/bin``) are run directly.
"""

import os
import secrets
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import ManagedProcess
from tests.support.services import HOST, free_port, port_open, service_unavailable
from tests.support.waiting import wait_until

SBIN = Path(os.environ.get("RABBITMQ_SBIN", "/usr/lib/rabbitmq/bin"))
NODE_START_TIMEOUT = 90.0


def cluster_binaries() -> tuple[Path, Path, str]:
    """``rabbitmq-server``, ``rabbitmqctl`` and ``epmd``, or skip (fail under REQUIRE_SERVICES)."""
    server, ctl, epmd = SBIN / "rabbitmq-server", SBIN / "rabbitmqctl", shutil.which("epmd")
    missing = [str(path) for path in (server, ctl) if not path.exists()]
    if epmd is None:
        missing.append("epmd")
    if missing:
        service_unavailable(f"no private RabbitMQ cluster: {', '.join(missing)} not found")
    assert epmd is not None
    return server, ctl, epmd


@dataclass
class RabbitNode:
    name: str
    """The Erlang node name, ``<short>@localhost``."""
    port: int
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{HOST}:{self.port}//"


class RabbitCluster:
    """``size`` nodes joined into one cluster; ``url`` lists them all (kombu fails over)."""

    def __init__(self, directory: Path, size: int = 3) -> None:
        self._server, self._ctl, epmd = cluster_binaries()
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        cookie = directory / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o400)
        self._epmd_port = free_port()
        self._epmd = ManagedProcess(
            f"epmd:{self._epmd_port}",
            [epmd, "-port", str(self._epmd_port), "-address", HOST],
            env=dict(os.environ),
            cwd=directory,
            log_path=directory / "epmd.log",
        )
        prefix = f"of{secrets.token_hex(3)}"
        self.nodes = [self._node(f"{prefix}n{number}") for number in range(1, size + 1)]

    def _env(self) -> dict[str, str]:
        """What the nodes and ``rabbitmqctl`` share: the cookie's home and the epmd."""
        return {
            **os.environ,
            "HOME": str(self.directory),
            "ERL_EPMD_PORT": str(self._epmd_port),
            "ERL_EPMD_ADDRESS": HOST,
        }

    def _node(self, short_name: str) -> RabbitNode:
        home = self.directory / short_name
        home.mkdir()
        port = free_port()
        (home / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {HOST}:{port}\nloopback_users = none\n"
        )
        (home / "enabled_plugins").write_text("[].\n")
        (home / "rabbitmq-env.conf").write_text("")
        name = f"{short_name}@localhost"
        env = {
            **self._env(),
            "RABBITMQ_NODENAME": name,
            "RABBITMQ_NODE_IP_ADDRESS": HOST,
            "RABBITMQ_NODE_PORT": str(port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(home / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(home / "log"),
            "RABBITMQ_PID_FILE": str(home / "pid"),
            "RABBITMQ_LOGS": "-",
        }
        process = ManagedProcess(
            name,
            [str(self._server)],
            env=env,
            cwd=home,
            log_path=home / "rabbitmq-server.log",
        )
        return RabbitNode(name, port, process)

    @property
    def url(self) -> str:
        """Every node, first node first: clients connect to it and fail over in turn."""
        return ";".join(node.url for node in self.nodes)

    def start(self) -> "RabbitCluster":
        """Start every node side by side, then join the others to the first."""
        self._epmd.start()
        wait_until(
            lambda: port_open(self._epmd_port),
            timeout=10,
            what="epmd",
            describe=self._epmd.tail,
        )
        for node in self.nodes:
            node.process.start()
        for node in self.nodes:
            self._wait_listening(node)
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            list(pool.map(self._join_first, self.nodes[1:]))
        return self

    def _wait_listening(self, node: RabbitNode) -> None:
        def listening() -> bool:
            node.process.check_alive()
            return port_open(node.port)

        wait_until(
            listening,
            timeout=NODE_START_TIMEOUT,
            interval=0.25,
            what=f"RabbitMQ node {node.name} to listen on {node.port}",
            describe=node.process.tail,
        )

    def _join_first(self, node: RabbitNode) -> None:
        self.ctl(node, "stop_app")
        self.ctl(node, "join_cluster", self.nodes[0].name)
        self.ctl(node, "start_app")

    def ctl(self, node: RabbitNode, *args: str) -> str:
        """``rabbitmqctl -n <node> <args>``; its output, or an error with its stderr."""
        done = subprocess.run(
            [str(self._ctl), "-n", node.name, *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl -n {node.name} {' '.join(args)} failed ({done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}"
            )
        return done.stdout

    def running_nodes(self, asking: RabbitNode) -> set[str]:
        """The nodes ``asking`` sees running (from ``cluster_status``)."""
        status = self.ctl(asking, "cluster_status", "--formatter", "erlang")
        return {node.name for node in self.nodes if f"'{node.name}'" in _running_part(status)}

    def queue_leaders(self, asking: RabbitNode) -> dict[str, tuple[str, str]]:
        """Each queue's type and leader node, as ``asking`` sees them."""
        listed = self.ctl(asking, "list_queues", "name", "type", "leader", "--quiet")
        leaders: dict[str, tuple[str, str]] = {}
        for line in listed.splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) == 3:
                leaders[parts[0]] = (parts[1], parts[2])
        return leaders

    def node_named(self, name: str) -> RabbitNode:
        return next(node for node in self.nodes if node.name == name)

    def kill(self, node: RabbitNode) -> None:
        """SIGKILL the node: no goodbye to its peers, who must notice it is gone."""
        node.process.kill()

    def close(self) -> None:
        for node in self.nodes:
            node.process.kill()
        self._epmd.kill()


def _running_part(status: str) -> str:
    """The ``{running_nodes, [...]}`` part of ``cluster_status`` in Erlang terms."""
    start = status.find("running_nodes")
    if start < 0:
        return ""
    return status[start : status.find("]", start) + 1]
