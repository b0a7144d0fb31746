"""The same delivery published twice at once, to two workers: one effect."""

import re
from datetime import timedelta

import pytest

from app.infrastructure.messaging.publisher import CeleryPublisher
from app.infrastructure.persistence import outbox
from tests.faults.conftest import Rig
from tests.faults.workload import drive_all
from tests.support.workload import Workload, assert_queries_match

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]


def test_same_delivery_published_twice_concurrently(rig: Rig) -> None:
    workload = Workload.generate(users=3, orders=10)
    first = rig.stack.start_worker(concurrency=1, relay=False)
    second = rig.stack.start_worker(concurrency=1, relay=False)
    drive_all(rig.stack.client, workload)

    publisher = CeleryPublisher(rig.stack.celery, native_dead_lettering=False)
    with rig.stack.engine.begin() as conn:
        claimed = outbox.claim(conn, token="twice", lease=timedelta(minutes=5), limit=10_000)
    # Every delivery twice in a row: the two copies land on the two single-process
    # workers at the same moment and race for the handler's receipt.
    twice = [copy for delivery in claimed for copy in (delivery, delivery)]
    published = len(publisher.publish(twice, fail_fast=False))
    assert published == 2 * len(claimed)
    # The relay publishes what the handlers cause (reactions); the claimed rows stay leased.
    rig.stack.start_relay()

    rig.stack.wait_drained(timeout=90)
    logs = first.log_text() + second.log_text()
    raced = len(re.findall(r"skipped duplicate", logs))
    late = len(re.findall(r"is done; ignoring", logs))
    rig.extra.update(
        copies_published=published,
        second_copy_lost_the_receipt_race=raced,
        second_copy_found_delivery_done=late,
    )
    rig.verify(expected_dead=0)
    assert raced + late > 0
    assert_queries_match(rig.stack.client, workload)
