"""The one rule of ordered delivery: a key's first open delivery goes; the rest are held,
waiting behind one in flight or parked behind a dead one."""

from app.application.ports import DeliveryStatus
from app.infrastructure.persistence import ordering


def test_due_statuses_hold_behind_the_head_and_park_behind_the_dead() -> None:
    S = DeliveryStatus
    assert ordering.due_statuses([(1, S.RUNNING), (2, S.PENDING), (3, S.PARKED)]) == {
        2: S.WAITING,
        3: S.WAITING,
    }
    assert ordering.due_statuses([(1, S.DEAD), (2, S.WAITING), (3, S.PENDING)]) == {
        2: S.PARKED,
        3: S.PARKED,
    }
    assert ordering.due_statuses([(2, S.WAITING), (3, S.WAITING)]) == {2: S.PENDING}
    assert ordering.due_statuses([(2, S.PARKED), (3, S.PARKED)]) == {
        2: S.PENDING,
        3: S.WAITING,
    }
    assert ordering.due_statuses([(1, S.PENDING), (2, S.DISPATCHED)]) == {}
