"""``flask handlers list``'s table: one line per handler, long lists shortened."""

from app.application.handler_overview import HandlerOverview
from app.cli.handler_table import backlog_text, event_types_text, render

KNOWN = ("order.created", "order.paid", "user.registered", "user.renamed")


def test_every_event_type_reads_all_events() -> None:
    assert event_types_text(KNOWN, KNOWN) == "all events"


def test_every_event_type_of_a_kind_reads_kind_star() -> None:
    assert event_types_text(["user.renamed", "user.registered"], KNOWN) == "user.*"
    chosen = ["order.created", "user.registered", "user.renamed"]
    assert event_types_text(chosen, KNOWN) == "order.created, user.*"


def test_a_backlog_names_only_its_non_zero_counts() -> None:
    assert backlog_text({"pending": 0, "dead": 0}) == "none"
    assert backlog_text({"pending": 3, "retry": 0, "dead": 1}) == "3 pending, 1 dead"


def _handler(name: str, enabled: bool) -> HandlerOverview:
    return {
        "name": name,
        "task": f"handlers.{name}",
        "queue": "integrations",
        "event_types": ["order.created"],
        "enabled": enabled,
        "disabled_reason": None if enabled else "PARTNER_URL is not set",
        "requires": [] if enabled else ["PARTNER_URL"],
        "ordered": not enabled,
        "effect": "at-least-once",
        "backlog": {"pending": 2, "dead": 0},
        "oldest_waiting_age_seconds": 0.0,
        "done": 0,
        "last_backfill": None,
    }


def test_the_table_says_why_a_handler_is_disabled_and_what_that_means() -> None:
    text = render([_handler("a_long_handler_name", True), _handler("partner", False)])
    header, enabled, disabled, blank, note = text.splitlines()
    assert header.split() == ["HANDLER", "STATE", "ORDERED", "QUEUE", "BACKLOG", "EVENTS"]
    cells = ["a_long_handler_name", "enabled", "no", "integrations", "2", "pending"]
    assert enabled.split() == [*cells, "order.created"]
    assert "disabled: PARTNER_URL is not set" in disabled
    assert disabled.index("yes") == enabled.index("no") == header.index("ORDERED")
    assert blank == "" and "those it already has still run" in note


def test_with_every_handler_enabled_there_is_no_note() -> None:
    assert len(render([_handler("a", True)]).splitlines()) == 2
