"""A delivery's status has one home: ``delivery_states`` holds the legal moves and builds
every statement that changes the status (its rows, its guard, its SET), and no other
module does: the others execute them."""

import ast
import re
from pathlib import Path
from typing import TypeGuard

import pytest
from sqlalchemy.dialects import postgresql

from app.application.ports import DeliveryStatus
from app.infrastructure.persistence import delivery_states
from app.infrastructure.persistence.delivery_states import (
    TRANSITIONS,
    IllegalTransition,
    created,
    in_status,
    insert,
    sources_of,
    transition,
    update_to,
)
from app.infrastructure.persistence.sql import utcnow

PENDING, DISPATCHED, RUNNING, RETRY, DONE, DEAD = (
    DeliveryStatus.PENDING,
    DeliveryStatus.DISPATCHED,
    DeliveryStatus.RUNNING,
    DeliveryStatus.RETRY,
    DeliveryStatus.DONE,
    DeliveryStatus.DEAD,
)
WAITING, PARKED, SKIPPED = DeliveryStatus.WAITING, DeliveryStatus.PARKED, DeliveryStatus.SKIPPED
APP = Path(__file__).resolve().parents[2] / "app"
HOME = Path(delivery_states.__file__).resolve()
OUTBOX_STATEMENTS = {"outbox", "delivery_states", "states", "update_to"}
"""The names an outbox statement's chain of calls starts from."""
HOME_ONLY = {"update_to", "created"}
"""The home's builders of any move: only the home calls them (the others take the
statements it builds with them, and its ``insert`` of new rows)."""
SCHEMA = APP / "infrastructure" / "persistence" / "tables.py"
"""The schema: its partial indexes' predicates compare the status (the home repeats them)."""
STATUS_IN_SQL = re.compile(r"(?i)\bstatus\s*(<>|!=|=|\bin\b)")


def test_the_transition_map_is_the_one_the_code_relies_on() -> None:
    ends = {RUNNING, RETRY, DONE, DEAD}
    assert {k: set(v) for k, v in TRANSITIONS.items()} == {
        None: {PENDING, DISPATCHED},
        PENDING: {DISPATCHED, WAITING, PARKED} | ends,
        DISPATCHED: {PENDING, DISPATCHED} | ends,
        RUNNING: {DISPATCHED, WAITING} | ends,
        RETRY: {DISPATCHED} | ends,
        DEAD: {PENDING, DONE, DEAD, SKIPPED},
        WAITING: {PENDING, PARKED},
        PARKED: {PENDING, WAITING},
        DONE: set(),
        SKIPPED: set(),
    }


@pytest.mark.parametrize(
    ("source", "target"),
    [(DONE, s) for s in DeliveryStatus]
    + [(SKIPPED, s) for s in DeliveryStatus]
    + [(None, s) for s in (RUNNING, RETRY, DONE, DEAD, WAITING, PARKED, SKIPPED)]
    + [(s, RUNNING) for s in (WAITING, PARKED)]
    + [(s, SKIPPED) for s in (PENDING, RUNNING, WAITING, PARKED)]
    + [(DEAD, s) for s in (DISPATCHED, RUNNING, RETRY)]
    + [(s, PENDING) for s in (PENDING, RUNNING, RETRY)],
)
def test_an_illegal_transition_is_refused(
    source: DeliveryStatus | None, target: DeliveryStatus
) -> None:
    with pytest.raises(IllegalTransition):
        transition(source, target)


def test_a_legal_transition_answers_its_target() -> None:
    assert transition(RUNNING, DONE) is DONE
    assert created(PENDING) == {"status": PENDING}
    with pytest.raises(IllegalTransition):
        created(DONE)
    with pytest.raises(IllegalTransition):
        insert(RUNNING)


def test_a_statement_for_an_illegal_move_cannot_be_built() -> None:
    with pytest.raises(IllegalTransition):
        update_to(PENDING, sources=[RUNNING])
    with pytest.raises(IllegalTransition):
        update_to(RUNNING, sources=[DONE])


def guarded_statuses(sql: str) -> set[str]:
    """The statuses a compiled WHERE lets through."""
    listed = re.search(r"outbox\.status IN \(([^)]*)\)", sql)
    if listed:
        return set(re.findall(r"'(\w+)'", listed.group(1)))
    assert "status <> 'done'" in sql, sql
    return {s.value for s in DeliveryStatus} - {"done"}


@pytest.mark.parametrize("target", list(DeliveryStatus))
def test_every_update_is_guarded_by_the_map(target: DeliveryStatus) -> None:
    sources = sources_of(target)
    assert sources, f"nothing moves to {target}"
    sql = str(update_to(target).compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    assert guarded_statuses(sql) == {s.value for s in sources}
    assert "SET status=" in sql


def test_a_guard_without_done_repeats_the_partial_index_predicate() -> None:
    for statuses in ([PENDING], DeliveryStatus.unfinished(), [DEAD]):
        assert str(in_status(statuses)).startswith("status <> 'done'")
    assert "status <> 'done'" not in str(in_status([DONE]))


def status_writes(tree: ast.AST) -> list[str]:
    """Where a module compares ``outbox.c.status`` or sets ``status`` on an outbox statement."""
    found = []
    imports_outbox = any(
        isinstance(node, ast.ImportFrom) and any(alias.name == "outbox" for alias in node.names)
        for node in ast.walk(tree)
    )
    for node in ast.walk(tree):
        if (
            imports_outbox
            and isinstance(node, ast.Dict)
            and any(isinstance(k, ast.Constant) and k.value == "status" for k in node.keys)
        ):
            found.append(f"line {node.lineno}: a status value beside the outbox table")
        if is_outbox_status(node) and isinstance(
            parent_of(tree, node), ast.Compare | ast.Attribute
        ):
            found.append(f"line {node.lineno}: compares outbox.c.status")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.search(r"(?i)\bupdate\s+outbox\b", node.value)
        ):
            found.append(f"line {node.lineno}: an UPDATE of the outbox in raw SQL")
        if isinstance(node, ast.Attribute) and node.attr in HOME_ONLY:
            root = chain_root_of(node.value)
            if root in {"delivery_states", "states"}:
                found.append(f"line {node.lineno}: builds a status move ({node.attr})")
        if (
            isinstance(node, ast.ImportFrom)
            and (node.module or "").endswith("delivery_states")
            and HOME_ONLY & {alias.name for alias in node.names}
        ):
            found.append(f"line {node.lineno}: imports a builder of status moves")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "insert"
            and chain_root_of(node.func.value) == "outbox"
        ) or (
            isinstance(node, ast.Call)
            and any(isinstance(a, ast.Name) and a.id == "outbox" for a in node.args)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "insert")
                or (isinstance(node.func, ast.Name) and node.func.id == "insert")
            )
        ):
            found.append(f"line {node.lineno}: inserts outbox rows (their status is the home's)")
        if (
            imports_outbox
            and isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and STATUS_IN_SQL.search(node.value)
        ):
            found.append(f"line {node.lineno}: compares a status in raw SQL")
        if isinstance(node, ast.Call) and chain_root(node) in OUTBOX_STATEMENTS:
            keys = [k.arg for k in node.keywords] + [
                key.value
                for arg in node.args
                if isinstance(arg, ast.Dict)
                for key in arg.keys
                if isinstance(key, ast.Constant)
            ]
            if "status" in keys:
                found.append(f"line {node.lineno}: sets status on an outbox statement")
    return found


def is_outbox_status(node: ast.AST) -> TypeGuard[ast.Attribute]:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "status"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "c"
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "outbox"
    )


def parent_of(tree: ast.AST, child: ast.AST) -> ast.AST | None:
    for node in ast.walk(tree):
        if child in ast.iter_child_nodes(node):
            return node
    return None


def chain_root(call: ast.Call) -> str | None:
    return chain_root_of(call)


def chain_root_of(node: ast.expr) -> str | None:
    while isinstance(node, ast.Call | ast.Attribute):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def test_no_other_module_writes_or_compares_a_delivery_status() -> None:
    offenders = {
        str(path.relative_to(APP.parent)): found
        for path in sorted(APP.rglob("*.py"))
        if path.resolve() not in (HOME, SCHEMA)
        and (found := status_writes(ast.parse(path.read_text(), str(path))))
    }
    assert offenders == {}


def test_the_scan_finds_a_status_written_behind_the_home_s_back() -> None:
    stray = (
        "from app.infrastructure.persistence.tables import outbox\n"
        "ROW = {'handler': 'h', 'status': 'pending'}\n"
        "outbox.update().where(outbox.c.status == 'dead').values(status='pending')\n"
        "outbox.insert().values({'status': 'done'})\n"
        "states.update_to(RETRY).values(status='done').where(outbox.c.id == 1)\n"
        "dead_letters.update().values(status='redriven')\n"
        "sa.text('UPDATE outbox SET lease_until = NULL')\n"
        "conn.execute(states.update_to(DONE).where(outbox.c.id == 1))\n"
        "conn.execute(outbox.insert(), [{'handler': 'h'}])\n"
        "conn.execute(postgresql.insert(outbox).values(handler='h'))\n"
        "row = {**delivery_states.created(PENDING), 'handler': 'h'}\n"
        "from app.infrastructure.persistence.delivery_states import update_to\n"
        "AHEAD = sa.literal_column(\"EXISTS (SELECT 1 FROM outbox WHERE status <> 'done')\")\n"
    )
    lines = {int(found.split()[1].rstrip(":")) for found in status_writes(ast.parse(stray))}
    assert lines == {2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13}


def test_the_moves_the_other_modules_make_are_guarded_by_the_map() -> None:
    """Each statement the home builds for the others sets the status its name says, from
    the statuses the map lets move there."""
    moves = {
        delivery_states.ATTEMPT_STARTED: (RUNNING, sources_of(RUNNING)),
        delivery_states.retry_scheduled(1, error="e", lease_until=utcnow()): (
            RETRY,
            sources_of(RETRY),
        ),
        delivery_states.marked_done(): (DONE, sources_of(DONE)),
        delivery_states.dead(1, error="e"): (DEAD, sources_of(DEAD)),
        delivery_states.redriven([1], now=utcnow()): (PENDING, (DEAD,)),
        delivery_states.skipped([1]): (SKIPPED, (DEAD,)),
        delivery_states.unstarted_released([1]): (PENDING, (DISPATCHED,)),
        delivery_states.settled([1], WAITING): (WAITING, (PENDING, PARKED)),
        delivery_states.settled([1], PENDING): (PENDING, (WAITING, PARKED)),
        delivery_states.RELEASE_FIRST_OPEN: (PENDING, (WAITING, PARKED)),
        delivery_states.held_again(1): (WAITING, (RUNNING,)),
    }
    for statement, (target, sources) in moves.items():
        sql = str(statement.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
        assert guarded_statuses(sql) == {s.value for s in sources}, sql
        assert statement.compile().params["status"] == target, sql
