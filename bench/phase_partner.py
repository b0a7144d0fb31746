"""Commit → the webhook partner's receipt, at the latency phase's command rate.

The other product phases run on the defaults, where ``forward_to_webhooks`` is not
subscribed (no ``WEBHOOK_URLS``). This one restarts the web with ``WEBHOOK_URLS`` pointing
at a local partner (``bench.webhook_receiver``: HTTP/1.1 keep-alive, 200 at once), starts
the Procfile's relay and a worker with the same setting, and offers create-and-pay commands
in an open loop, after a second of warm-up. Each event's delay runs from its
``occurred_at`` (stamped before the command's commit: an upper bound, as in the latency
phase) to the partner's first acceptance of it. It leaves the web running with the
setting, the relay and worker stopped.
"""

import time

from bench import start_delays
from bench.numbers import percentile
from bench.outbox_watch import OutboxWatch
from bench.processes import ProcessFailed
from bench.product_stack import ProductStack
from bench.profiles import Profile
from bench.webhook_receiver import WebhookReceiver

SECRET = "bench-partner-secret"
DRAIN_TIMEOUT = 120.0


def run_partner_latency(
    stack: ProductStack, watch: OutboxWatch, profile: Profile
) -> dict[str, float]:
    receiver = WebhookReceiver()
    receiver.start()
    try:
        settings = {"WEBHOOK_URLS": f"{receiver.url}|{SECRET}"}
        stack.stop_all_but_web()
        stack.restart_web(settings)
        stack.start_relay()
        stack.start_worker(settings)
        user_id = stack.register_user()
        offered = profile.latency_rate
        _warm_up(stack, watch, user_id, offered)
        stack.progress.say(
            f"partner latency: {offered:.0f} commands/s with WEBHOOK_URLS set, open loop, "
            f"for {profile.latency_seconds:.0f} s"
        )
        since = time.time()
        result, _answers = start_delays.offer_and_drain(
            stack.port,
            [user_id],
            watch,
            stack.check_alive,
            rate=offered,
            seconds=profile.latency_seconds,
            drain_timeout=DRAIN_TIMEOUT,
            what="partner-latency window",
        )
        delays = receiver.receipt_delays_ms(since)
        if not delays:
            raise ProcessFailed("the partner received no event (is WEBHOOK_URLS reaching it?)")
        stack.stop_all_but_web()
    finally:
        receiver.stop()
    figures = {
        "partner_answered_per_s": result.ok_per_second,
        "partner_events": float(len(delays)),
        "commit_to_partner_p50_ms": percentile(delays, 50),
        "commit_to_partner_p99_ms": percentile(delays, 99),
    }
    stack.progress.say(
        f"partner latency: occurred_at→partner receipt p50 "
        f"{figures['commit_to_partner_p50_ms']:.1f} ms, p99 "
        f"{figures['commit_to_partner_p99_ms']:.1f} ms over {len(delays)} events"
    )
    return figures


def _warm_up(stack: ProductStack, watch: OutboxWatch, user_id: str, rate: float) -> None:
    """A second of commands, drained, before the window: a fresh worker's first deliveries
    (each pool process's partner connection, first statements) are not the steady state."""
    start_delays.offer_and_drain(
        stack.port,
        [user_id],
        watch,
        stack.check_alive,
        rate=rate,
        seconds=1.0,
        drain_timeout=DRAIN_TIMEOUT,
        what="partner phase's warm-up",
    )
