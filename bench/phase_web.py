"""Command throughput over HTTP: the bare endpoint, then ``POST /api/orders`` of the product."""

from collections.abc import Callable

from bench import load, sample_order
from bench.numbers import percentile, rate
from bench.profiles import Profile
from bench.progress import Progress
from bench.rig import Rig
from bench.yardstick_schema import BENCH_USER_ID

UNLIMITED = 10**9


def run_bare_endpoint(rig: Rig, profile: Profile, progress: Progress) -> dict[str, float]:
    progress.say("bare endpoint: starting gunicorn -w 2 with the bench's own order endpoint")
    web, port = rig.start_gunicorn("bare-web", "bench.bare_app:create_app()")
    progress.say(f"bare endpoint: {profile.http_clients} clients for {profile.http_seconds:.0f} s")
    result = load.closed_loop(
        port,
        lambda: ("/orders", sample_order.body(BENCH_USER_ID)),
        clients=profile.http_clients,
        seconds=profile.http_seconds,
        limit=UNLIMITED,
    )
    rig.processes.stop(web)
    if result.errors:
        progress.say(f"bare endpoint: {result.errors} requests failed")
    progress.say(f"bare endpoint: {result.ok_per_second:.0f} req/s")
    return {
        "bare_req_per_s": result.ok_per_second,
        "bare_p50_ms": percentile(result.latencies_ms(), 50),
        "bare_errors": float(result.errors),
    }


def run_product_post(
    rig: Rig,
    profile: Profile,
    progress: Progress,
    port: int,
    user_id: str,
    web_cpu: Callable[[], float],
) -> dict[str, float]:
    """Closed loop on ``POST /api/orders`` with no worker running: the drain's backlog."""
    progress.say(
        f"POST /api/orders: {profile.http_clients} clients for {profile.http_seconds:.0f} s "
        f"(at most {profile.backlog_orders} orders), no worker running"
    )
    cpu_before = web_cpu()
    result = load.closed_loop(
        port,
        lambda: ("/api/orders", sample_order.body(user_id)),
        clients=profile.http_clients,
        seconds=profile.http_seconds,
        limit=profile.backlog_orders,
    )
    cpu = web_cpu() - cpu_before
    progress.say(f"POST /api/orders: {result.ok_per_second:.0f} req/s, {result.errors} errors")
    return {
        "post_req_per_s": result.ok_per_second,
        "post_p50_ms": percentile(result.latencies_ms(), 50),
        "post_errors": float(result.errors),
        "post_orders": float(len(result.ok)),
        "post_web_cpu_ms_per_request": rate(cpu * 1000, len(result.ok)),
    }
