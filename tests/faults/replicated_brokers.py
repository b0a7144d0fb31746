"""Replicated brokers a fault scenario fails over: one member dies, the others carry on.

Each fits ``CrashableBroker``: ``crash`` kills the member that holds the data (the node
leading the queues, the Redis master) and ``start_empty`` starts it again, to rejoin as a
follower (RabbitMQ) or as an empty replica of the new master (Redis, no persistence).
"""

from pathlib import Path

from tests.support.brokers import Broker
from tests.support.rabbitmq_cluster import RabbitCluster, RabbitNode
from tests.support.redis_sentinel import SentinelGroup


class RabbitClusterBroker:
    """``size`` RabbitMQ nodes (one is a private server); the URL lists them all, in order."""

    def __init__(self, directory: Path, size: int = 3) -> None:
        self.cluster = RabbitCluster(directory, size)
        try:
            self.cluster.start()
        except BaseException:
            self.cluster.close()
            raise
        kind = "rabbitmq-cluster" if size > 1 else "rabbitmq-node"
        self.broker = Broker(kind, self.cluster.url)
        self.killed: RabbitNode | None = None

    def leader_node(self, queues: list[str]) -> RabbitNode:
        """The node leading every one of ``queues`` (asserted: one node leads them all)."""
        leaders = self.cluster.queue_leaders(self.cluster.nodes[-1])
        names = {leaders[queue][1] for queue in queues}
        assert len(names) == 1, f"the queues' leaders are spread: {leaders}"
        return self.cluster.node_named(names.pop())

    def crash(self, node: RabbitNode | None = None) -> None:
        """Kill ``node`` (default: the first node).

        A test that kills a queue leader looks it up first with ``leader_node``: the lookup
        runs ``rabbitmqctl``, which takes long enough for a backlog to drain.
        """
        self.killed = node or self.cluster.nodes[0]
        self.cluster.kill(self.killed)

    def start_empty(self) -> None:
        assert self.killed is not None, "nothing was killed"
        self.killed.process.start()

    def close(self) -> None:
        self.cluster.close()


class SentinelRedisBroker:
    """A Redis master, its replica and three Sentinels; the URL names the Sentinels."""

    def __init__(self, directory: Path) -> None:
        self.group = SentinelGroup(directory)
        try:
            self.group.start()
        except BaseException:
            self.group.close()
            raise
        self.broker = Broker("redis-sentinel", self.group.url)

    def crash(self) -> None:
        self.group.kill_master()

    def start_empty(self) -> None:
        self.group.restart_old_master()

    def close(self) -> None:
        self.group.close()
