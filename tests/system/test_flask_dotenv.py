"""A ``flask --app app`` command run the way a user runs it, from a directory with a ``.env``:
it reads the file (the settings there reach the command) and prints no tip about it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.databases import copy_migrated_sqlite, process_env

pytestmark = pytest.mark.system

FLASK = str(Path(sys.executable).with_name("flask"))


def test_a_flask_command_reads_dotenv_and_prints_no_tip(tmp_path: Path) -> None:
    database = tmp_path / "from-dotenv.db"
    copy_migrated_sqlite(database)
    (tmp_path / ".env").write_text(
        f"DATABASE_URL=sqlite:///{database}\n"
        f"INSTANCE_DIR={tmp_path / 'instance'}\n"
        "CELERY_BROKER_URL=memory://\n"
    )
    env = process_env({})
    del env["FLASK_SKIP_DOTENV"]
    done = subprocess.run(
        [FLASK, "--app", "app", "outbox", "stats"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Tip" not in done.stdout + done.stderr
    assert "dotenv" not in done.stdout + done.stderr
    assert isinstance(json.loads(done.stdout), dict)
    assert not (tmp_path / "instance").joinpath("outboxflow.db").exists()
