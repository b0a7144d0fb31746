"""``flask dead-letters list|show|retry|skip|purge`` against dead letters made the real way
(``tests.support.dead_letters``: two ``forward_to_webhooks``, one ``notify_sales_channel``).
"""

import getpass
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import Result

from app.infrastructure.persistence.tables import events, outbox
from tests.support.db_state import table_rows
from tests.support.dead_letters import (
    ORDER_WEBHOOK,
    SALES,
    WEBHOOK,
    Graveyard,
    dead_letters_made,
)
from tests.support.inprocess import AppFactory, container


@pytest.fixture
def graveyard(make_app: AppFactory) -> Iterator[Graveyard]:
    with dead_letters_made(make_app) as made:
        yield made


def _listed(result: Result) -> list[int]:
    assert result.exit_code == 0, result.output
    return sorted(json.loads(line)["id"] for line in result.stdout.splitlines())


def test_list_prints_one_line_per_dead_letter_and_a_count(graveyard: Graveyard) -> None:
    result = graveyard.cli("list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    sales = next(line for line in lines if "notify_sales_channel" in line)
    assert f"#{graveyard.ids[SALES]}" in sales
    assert "order.created" in sales and "attempts=1" in sales
    assert "app.application.errors.TransientFailure: POST " in sales and "answered 503" in sales
    assert "3 dead letter(s)" in result.stderr


def test_list_json_is_one_object_per_line_without_the_traceback(graveyard: Graveyard) -> None:
    result = graveyard.cli("list", "--json")
    assert result.exit_code == 0, result.output
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(i["id"] for i in items) == sorted(graveyard.ids.values())
    for item in items:
        assert "traceback" not in item
        assert item["status"] == "dead" and item["attempts"] == 1
        assert datetime.fromisoformat(item["created_at"]).tzinfo is not None
        assert item["body"]["delivery_id"] == item["delivery_id"]
        assert item["body"]["envelope"]["event_id"] == item["event_id"]


# Stored messages quote the receiver URL and its random port, so a bare "503"
# can match a port: error filters here always say "answered <code>".
FILTER_CASES: list[tuple[list[str], list[tuple[str, str]]]] = [
    (["--handler", "forward_to_webhooks"], [WEBHOOK, ORDER_WEBHOOK]),
    (["--handler", "notify_sales_channel"], [SALES]),
    (["--handler", "forward"], []),
    (["--event-type", "order.created"], [ORDER_WEBHOOK, SALES]),
    (["--event-type", "user.registered"], [WEBHOOK]),
    (["--error", "ANSWERED 400"], [WEBHOOK, ORDER_WEBHOOK]),
    (["--error", "transientfailure"], [SALES]),
    (["--error", "PermanentFailure"], [WEBHOOK, ORDER_WEBHOOK]),
    (["--error", "no such text"], []),
    (["--handler", "forward_to_webhooks", "--event-type", "order.created"], [ORDER_WEBHOOK]),
    (["--event-type", "order.created", "--error", "answered 503"], [SALES]),
]


def test_list_filters(graveyard: Graveyard) -> None:
    """Exact handler and event type; error text case-insensitive in message or type."""
    for args, expected in FILTER_CASES:
        listed = _listed(graveyard.cli("list", "--json", *args))
        assert listed == sorted(graveyard.ids[key] for key in expected), args


def test_error_filter_text_is_literal_not_a_like_pattern(graveyard: Graveyard) -> None:
    """No stored error contains ``%`` or ``_``: such a filter must match nothing.

    Otherwise ``retry --all --error %`` re-drives every dead letter.
    """
    for text in ("%", "_", "answered_4", "answered 4%0"):
        assert _listed(graveyard.cli("list", "--json", "--error", text)) == [], text
        result = graveyard.cli("retry", "--all", "--dry-run", "--error", text)
        assert "would re-drive 0" in result.output, text


def test_list_since_takes_durations_and_iso_times(graveyard: Graveyard) -> None:
    graveyard.age(WEBHOOK, timedelta(days=10))
    graveyard.age(ORDER_WEBHOOK, timedelta(hours=3))
    ids = graveyard.ids
    five_days_ago = datetime.now(UTC) - timedelta(days=5)
    cases = {
        "30m": [ids[SALES]],
        "4h": [ids[ORDER_WEBHOOK], ids[SALES]],
        "2h": [ids[SALES]],
        "7d": [ids[ORDER_WEBHOOK], ids[SALES]],
        "11d": sorted(ids.values()),
        five_days_ago.isoformat(): [ids[ORDER_WEBHOOK], ids[SALES]],
        # Without an offset the time is UTC.
        five_days_ago.replace(tzinfo=None).isoformat(): [ids[ORDER_WEBHOOK], ids[SALES]],
        (datetime.now(UTC) + timedelta(hours=1)).isoformat(): [],
    }
    for since, expected in cases.items():
        assert _listed(graveyard.cli("list", "--json", "--since", since)) == sorted(expected), since


def test_a_bad_since_is_a_usage_error_and_changes_nothing(graveyard: Graveyard) -> None:
    state = graveyard.snapshot()
    for since in ("yesterday", "2 weeks", "-3h", "12", "2025-13-45"):
        for command in ("list", "retry --all", "purge --yes"):
            result = graveyard.cli(*command.split(), "--since", since)
            assert result.exit_code == 2, (command, since, result.output)
            assert "Invalid value for '--since'" in result.output
            assert "neither an ISO-8601 time nor a duration" in result.output
    assert graveyard.snapshot() == state


def test_show_prints_the_record_and_its_traceback(graveyard: Graveyard) -> None:
    result = graveyard.cli("show", str(graveyard.ids[SALES]))
    assert result.exit_code == 0, result.output
    record, _, trace = result.output.partition("\n}\n")
    shown = json.loads(record + "\n}")
    assert shown["id"] == graveyard.ids[SALES]
    assert (shown["handler"], shown["event_type"]) == SALES
    assert "traceback" not in shown
    assert trace.startswith("Traceback (most recent call last)")
    assert "TransientFailure: POST " in trace


def test_show_of_an_unknown_id_fails(graveyard: Graveyard) -> None:
    result = graveyard.cli("show", "999999")
    assert result.exit_code == 1
    assert "dead letter 999999 does not exist" in result.output


def test_retry_puts_the_delivery_back_with_fresh_attempts_and_keeps_history(
    graveyard: Graveyard,
) -> None:
    before = graveyard.dead_letter(WEBHOOK)
    assert graveyard.delivery(WEBHOOK)["status"] == "dead"

    result = graveyard.cli("retry", str(graveyard.ids[WEBHOOK]))

    assert result.exit_code == 0, result.output
    assert "re-drove 1 dead letter(s)" in result.stdout
    delivery = graveyard.delivery(WEBHOOK)
    assert (delivery["status"], delivery["attempts"]) == ("pending", 0)
    assert (delivery["lease_until"], delivery["last_error"]) == (None, None)
    after = graveyard.dead_letter(WEBHOOK)
    assert (after["status"], after["redriven_at"] is not None) == ("redriven", True)
    for kept in ("message", "traceback", "exception_type", "attempts", "body", "created_at"):
        assert after[kept] == before[kept], kept
    # The others are untouched.
    assert graveyard.dead_letter(SALES)["status"] == "dead"
    assert graveyard.delivery(SALES)["status"] == "dead"


def test_a_second_retry_of_the_same_id_is_not_re_driven_again(graveyard: Graveyard) -> None:
    dead_letter_id = str(graveyard.ids[WEBHOOK])
    assert graveyard.cli("retry", dead_letter_id).exit_code == 0
    state = graveyard.snapshot()

    again = graveyard.cli("retry", dead_letter_id, "999999")

    assert again.exit_code == 0, again.output
    assert "re-drove 0 dead letter(s)" in again.stdout
    assert (
        "not re-driven (unknown, already re-driven or skipped, or without a delivery): "
        f"[{dead_letter_id}, 999999]" in again.stderr
    )
    assert graveyard.snapshot() == state


def test_list_all_includes_redriven_dead_letters(graveyard: Graveyard) -> None:
    assert graveyard.cli("retry", str(graveyard.ids[WEBHOOK])).exit_code == 0
    assert _listed(graveyard.cli("list", "--json")) == sorted(
        [graveyard.ids[ORDER_WEBHOOK], graveyard.ids[SALES]]
    )
    result = graveyard.cli("list", "--json", "--all")
    statuses = {
        json.loads(line)["id"]: json.loads(line)["status"] for line in result.stdout.splitlines()
    }
    assert statuses == {
        graveyard.ids[WEBHOOK]: "redriven",
        graveyard.ids[ORDER_WEBHOOK]: "dead",
        graveyard.ids[SALES]: "dead",
    }


def test_a_redriven_delivery_succeeds_once_its_cause_is_fixed(graveyard: Graveyard) -> None:
    graveyard.receiver.status["/hook"] = 200
    received = len(graveyard.receiver.received)
    assert graveyard.cli("retry", "--all", "--handler", "forward_to_webhooks").exit_code == 0

    container(graveyard.app).relay.sweep()

    assert graveyard.delivery(WEBHOOK)["status"] == "done"
    assert graveyard.delivery(ORDER_WEBHOOK)["status"] == "done"
    assert graveyard.receiver.received[received:] == ["/hook", "/hook"]
    assert graveyard.dead_letter(WEBHOOK)["status"] == "redriven"
    assert graveyard.delivery(SALES)["status"] == "dead"


def test_retry_all_with_filters_redrives_only_the_matches(graveyard: Graveyard) -> None:
    result = graveyard.cli("retry", "--all", "--error", "answered 503")
    assert result.exit_code == 0, result.output
    assert "re-drove 1 dead letter(s)" in result.stdout
    assert graveyard.delivery(SALES)["status"] == "pending"
    assert graveyard.dead_letter(SALES)["status"] == "redriven"
    for key in (WEBHOOK, ORDER_WEBHOOK):
        assert graveyard.delivery(key)["status"] == "dead"
        assert graveyard.dead_letter(key)["status"] == "dead"


def test_retry_all_dry_run_changes_nothing(graveyard: Graveyard) -> None:
    state = graveyard.snapshot()
    result = graveyard.cli("retry", "--all", "--dry-run", "--handler", "forward_to_webhooks")
    assert result.exit_code == 0, result.output
    expected = sorted([graveyard.ids[WEBHOOK], graveyard.ids[ORDER_WEBHOOK]])
    assert f"would re-drive 2: {expected[0]}, {expected[1]}" in result.output
    assert graveyard.snapshot() == state


@pytest.mark.parametrize("args", [[], ["--handler", "forward_to_webhooks"], ["1", "--all"]])
def test_retry_needs_ids_or_all_but_not_both(graveyard: Graveyard, args: list[str]) -> None:
    state = graveyard.snapshot()
    result = graveyard.cli("retry", *args)
    assert result.exit_code == 2, result.output
    assert "give dead-letter ids, or --all" in result.output
    assert graveyard.snapshot() == state


def test_skip_asks_first_and_an_answer_of_no_changes_nothing(graveyard: Graveyard) -> None:
    state = graveyard.snapshot()
    result = graveyard.cli("skip", str(graveyard.ids[WEBHOOK]), input="n\n")
    assert result.exit_code == 1
    assert "skip 1 dead letter(s) for good (their deliveries never run)?" in result.output
    assert "Aborted" in result.output
    assert graveyard.snapshot() == state


def test_skip_records_the_user_and_leaves_the_others_alone(graveyard: Graveyard) -> None:
    dead_letter_id = graveyard.ids[WEBHOOK]
    result = graveyard.cli("skip", str(dead_letter_id), str(dead_letter_id), input="y\n")
    assert result.exit_code == 0, result.output
    who = f"cli:{getpass.getuser()}"
    assert f"skipped 1 dead letter(s) as {who}: {dead_letter_id}" in result.stdout
    assert result.stderr == ""
    skipped = graveyard.dead_letter(WEBHOOK)
    assert (skipped["status"], skipped["skipped_by"]) == ("skipped", who)
    assert skipped["skipped_at"] is not None
    assert graveyard.delivery(WEBHOOK)["status"] == "skipped"
    for key in (ORDER_WEBHOOK, SALES):
        assert graveyard.dead_letter(key)["status"] == "dead"
    listed = graveyard.cli("list", "--all")
    assert f"#{dead_letter_id:<6} skipped" in listed.stdout


def test_skip_says_why_each_refused_id_was_not_skipped_and_exits_1(graveyard: Graveyard) -> None:
    redriven, skippable = graveyard.ids[WEBHOOK], graveyard.ids[SALES]
    assert graveyard.cli("retry", str(redriven)).exit_code == 0

    result = graveyard.cli("skip", "--yes", str(redriven), "999999", str(skippable))

    assert result.exit_code == 1, result.output
    assert f"skipped 1 dead letter(s) as cli:{getpass.getuser()}: {skippable}" in result.stdout
    refusals = result.stderr.splitlines()
    assert refusals[0].startswith(f"not skipped: dead letter {redriven} was re-driven at ")
    assert refusals[1] == "not skipped: dead letter 999999 does not exist"
    assert len(refusals) == 2
    assert graveyard.dead_letter(SALES)["status"] == "skipped"

    again = graveyard.cli("skip", "--yes", str(skippable))
    assert again.exit_code == 1
    assert "skipped 0 dead letter(s)" in again.stdout
    assert f"dead letter {skippable} was already skipped by cli:" in again.stderr


@pytest.mark.parametrize("args", [[], ["--yes"], ["0"], ["x"]])
def test_skip_needs_dead_letter_ids(graveyard: Graveyard, args: list[str]) -> None:
    state = graveyard.snapshot()
    result = graveyard.cli("skip", *args)
    assert result.exit_code == 2, result.output
    assert graveyard.snapshot() == state


def test_purge_asks_first_and_an_answer_of_no_changes_nothing(graveyard: Graveyard) -> None:
    state = graveyard.snapshot()
    result = graveyard.cli("purge", input="n\n")
    assert result.exit_code == 1
    assert "permanently delete 3 dead letter(s)?" in result.output
    assert "Aborted" in result.output
    assert graveyard.snapshot() == state


def test_purge_after_yes_at_the_prompt_deletes(graveyard: Graveyard) -> None:
    result = graveyard.cli("purge", "--event-type", "user.registered", input="y\n")
    assert result.exit_code == 0, result.output
    assert "purged 1 dead letter(s)" in result.output
    assert _listed(graveyard.cli("list", "--json", "--all")) == sorted(
        [graveyard.ids[ORDER_WEBHOOK], graveyard.ids[SALES]]
    )


def test_purge_yes_deletes_matches_and_their_dead_deliveries_only(graveyard: Graveyard) -> None:
    engine = container(graveyard.app).engine
    # A copy of the order-created webhook delivery finished after all: done, not dead.
    done_delivery = graveyard.delivery(ORDER_WEBHOOK)["id"]
    with engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.id == done_delivery).values(status="done"))
    dead_delivery = graveyard.delivery(WEBHOOK)["id"]
    sales = graveyard.delivery(SALES)
    outbox_before = {row["id"]: row for row in table_rows(engine, outbox)}
    events_before = table_rows(engine, events)

    result = graveyard.cli("purge", "--yes", "--handler", "forward_to_webhooks")

    assert result.exit_code == 0, result.output
    assert "purged 2 dead letter(s)" in result.output
    assert _listed(graveyard.cli("list", "--json", "--all")) == [graveyard.ids[SALES]]
    outbox_after = {row["id"]: row for row in table_rows(engine, outbox)}
    assert set(outbox_before) - set(outbox_after) == {dead_delivery}
    assert outbox_after[done_delivery]["status"] == "done"
    assert outbox_after[sales["id"]] == sales
    assert table_rows(engine, events) == events_before


def test_purge_keeps_redriven_history_unless_it_matches(graveyard: Graveyard) -> None:
    assert graveyard.cli("retry", str(graveyard.ids[WEBHOOK])).exit_code == 0
    pending = graveyard.delivery(WEBHOOK)
    result = graveyard.cli("purge", "--yes")
    assert result.exit_code == 0, result.output
    assert "purged 2 dead letter(s)" in result.output
    assert _listed(graveyard.cli("list", "--json", "--all")) == [graveyard.ids[WEBHOOK]]
    assert graveyard.delivery(WEBHOOK) == pending


def test_purge_with_nothing_matching_says_so(graveyard: Graveyard) -> None:
    state = graveyard.snapshot()
    result = graveyard.cli("purge", "--handler", "no_such_handler")
    assert result.exit_code == 0, result.output
    assert "nothing to purge" in result.output
    assert graveyard.snapshot() == state


def test_a_purged_delivery_is_still_listed_with_its_event_as_purged(graveyard: Graveyard) -> None:
    dead = graveyard.dead_letter(WEBHOOK)
    last_error = graveyard.delivery(WEBHOOK)["last_error"]
    assert last_error

    result = graveyard.cli("purge", "--yes", "--event-type", "user.registered")
    assert result.exit_code == 0, result.output

    client = graveyard.app.test_client()
    event = client.get(f"/api/events/{dead['event_id']}").get_json()
    (purged,) = [d for d in event["deliveries"] if d["handler"] == "forward_to_webhooks"]
    assert purged["status"] == "purged"
    assert purged["attempts"] == dead["attempts"] == 1
    assert purged["last_error"].startswith("dead, then purged with its dead letter at ")
    assert purged["last_error"].endswith(last_error)
    trace = client.get(f"/api/traces/{event['correlation_id']}").get_json()
    assert purged in trace["events"][0]["deliveries"]
    printed = graveyard.app.test_cli_runner().invoke(
        args=["events", "trace", event["correlation_id"]]
    )
    assert "forward_to_webhooks        purged     attempts=1" in printed.output
