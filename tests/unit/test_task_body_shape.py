"""The shape check that keeps a malformed task body out of Celery's request machinery."""

import pytest

from tasks.consumer import body_problem


@pytest.mark.parametrize(
    "body",
    [
        [[], {"delivery_id": 1, "envelope": {}}, {}],
        ((), {}, None),
        [[], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}],
    ],
)
def test_celery_s_own_shape_passes(body: object) -> None:
    assert body_problem(body) is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("just a string", "the body must be [args, kwargs, embed], got str"),
        ([[], {"delivery_id": 1}], "the body must be [args, kwargs, embed], got a list of 2"),
        (None, "the body must be [args, kwargs, embed], got NoneType"),
        ({"args": []}, "the body must be [args, kwargs, embed], got dict"),
        ([5, {}, {}], "args must be a list, got int"),
        ([[], [1], {}], "kwargs must be an object, got a list of 1"),
        ([[], {}, "x"], "embed must be an object, got str"),
        ([[], {}, {"chain": [{"task": "x"}]}], "the message asks for ['chain']"),
        ([[], {}, {"callbacks": 5, "chord": {}}], "the message asks for ['callbacks']"),
    ],
)
def test_any_other_shape_is_named(body: object, problem: str) -> None:
    reason = body_problem(body)
    assert reason is not None
    assert problem in reason
