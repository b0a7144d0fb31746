"""The test session's vhost deletion survives a failed spawn or a timed-out try (no RabbitMQ)."""

import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.support.brokers import RabbitAdmin

Answer = Callable[[], subprocess.CompletedProcess[str]]


def done(code: int = 0, stdout: str = "", stderr: str = "") -> Answer:
    return lambda: subprocess.CompletedProcess([], code, stdout, stderr)


def spawn_fails() -> subprocess.CompletedProcess[str]:
    raise OSError(14, "Bad address", "/usr/sbin/rabbitmqctl")


def times_out() -> subprocess.CompletedProcess[str]:
    raise subprocess.TimeoutExpired("rabbitmqctl", 60)


class ScriptedAdmin(RabbitAdmin):
    """Each ``rabbitmqctl`` call gets the next scripted answer; ``calls`` records the commands."""

    def __init__(self, *script: Answer) -> None:
        super().__init__()
        self._ctl = "/usr/sbin/rabbitmqctl"
        self._script = iter(script)
        self.calls: list[str] = []

    def _run_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.calls.append(args[0])
        return next(self._script)()


@pytest.fixture
def admins(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ScriptedAdmin]]:
    monkeypatch.setattr("tests.support.brokers.time.sleep", lambda _seconds: None)
    made: list[ScriptedAdmin] = []
    yield made
    for admin in made:
        admin._deleter.shutdown(wait=True)


def scripted(admins: list[ScriptedAdmin], *script: Answer) -> ScriptedAdmin:
    admins.append(ScriptedAdmin(*script))
    return admins[-1]


def test_a_failed_spawn_is_retried(admins: list[ScriptedAdmin]) -> None:
    admin = scripted(admins, spawn_fails, done())
    admin.delete_vhost("v1")
    assert admin.calls == ["delete_vhost", "delete_vhost"]


def test_a_retry_finding_the_vhost_gone_counts_as_done(admins: list[ScriptedAdmin]) -> None:
    admin = scripted(admins, times_out, done(1, stderr="no_such_vhost"), done(stdout="/\n"))
    admin.delete_vhost("v1")
    assert admin.calls == ["delete_vhost", "delete_vhost", "list_vhosts"]


def test_an_unanswered_existence_check_does_not_count_as_gone(admins: list[ScriptedAdmin]) -> None:
    admin = scripted(admins, spawn_fails, spawn_fails, spawn_fails, done())
    admin.delete_vhost("v1")
    assert admin.calls == ["delete_vhost", "delete_vhost", "list_vhosts", "delete_vhost"]


def test_the_last_failure_is_reported_with_the_vhost_and_its_reason(
    admins: list[ScriptedAdmin],
) -> None:
    failing = done(2, stderr="boom")
    admin = scripted(admins, failing, failing, done(stdout="v1\n"), failing, done(stdout="v1\n"))
    admin.delete_vhost_soon("v1")
    with pytest.raises(
        RuntimeError, match=r"1 vhost deletion\(s\) failed: deleting vhost 'v1'.*boom"
    ):
        admin.close()
    assert admin.calls[-1] == "list_vhosts"
