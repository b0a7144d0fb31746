"""What one host makes and another must honour, checked over real HTTP: an ops-page sign-in
and its CSRF token, an ``Idempotency-Key``'s reply, and each relay's heartbeat as a web's
``/metrics`` shows it."""

import re

import requests

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
HOST_AGE = re.compile(
    r'^outboxflow_relay_host_heartbeat_age_seconds\{host="([^"]+)"\} (\S+)$', re.MULTILINE
)


def heartbeat_ages(web: str, admin_token: str) -> dict[str, float]:
    """Each host's relay heartbeat age as ``web``'s ``/metrics`` reports it."""
    answer = requests.get(
        f"{web}/metrics", headers={"Authorization": f"Bearer {admin_token}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text[:300]
    return {host: float(age) for host, age in HOST_AGE.findall(answer.text)}


def signed_in_cookie(web: str, admin_token: str) -> tuple[str, str]:
    """Sign in to ``web``'s ops page; returns the session cookie and a CSRF token of its page."""
    browser = requests.Session()
    form = browser.get(f"{web}/ops/sign-in", timeout=10).text
    found = CSRF_FIELD.search(form)
    assert found, "no CSRF field on the sign-in form"
    answer = browser.post(
        f"{web}/ops/sign-in",
        data={"token": admin_token, "csrf_token": found.group(1), "next": "/ops"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text[:300]
    page = browser.get(f"{web}/ops", timeout=10)
    assert page.status_code == 200
    found = CSRF_FIELD.search(page.text)
    assert found, "no CSRF field on the ops page"
    return browser.cookies["session"], found.group(1)


def assert_ops_session_crosses_hosts(web_a: str, web_b: str, admin_token: str) -> None:
    """Signed in on A, the same cookie opens B and its CSRF token signs out there, which ends
    the session on A too: the cookie's key and the session's row are shared, nothing local."""
    cookie, csrf_token = signed_in_cookie(web_a, admin_token)
    with_cookie = {"session": cookie}
    assert requests.get(f"{web_b}/ops", cookies=with_cookie, timeout=10).status_code == 200
    signed_out = requests.post(
        f"{web_b}/ops/sign-out",
        data={"csrf_token": csrf_token},
        cookies=with_cookie,
        allow_redirects=False,
        timeout=10,
    )
    assert signed_out.status_code == 302, signed_out.text[:300]
    assert requests.get(f"{web_a}/ops", cookies=with_cookie, timeout=10).status_code == 401


def assert_idempotent_retry_crosses_hosts(web_a: str, web_b: str) -> None:
    """A command sent to A and repeated on B with the same key is replayed by B."""
    body = {"email": "retried@example.com", "name": "Retried"}
    headers = {"Idempotency-Key": "sent-to-a-repeated-on-b"}
    first = requests.post(f"{web_a}/api/users", json=body, headers=headers, timeout=10)
    again = requests.post(f"{web_b}/api/users", json=body, headers=headers, timeout=10)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
