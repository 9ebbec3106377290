"""The `ruche` entry point, in process and as a real command."""

import os
import subprocess
import sys

import pytest

from ruche import cli


def test_sets_settings_and_hands_off_to_django(monkeypatch):
    calls = []
    monkeypatch.setattr(
        "django.core.management.execute_from_command_line", lambda argv: calls.append(argv)
    )
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)

    cli.main(["check", "--deploy"])
    cli.main(["worker", "--queue-name", "default"])

    assert os.environ["DJANGO_SETTINGS_MODULE"] == "config.settings"
    assert calls == [
        ["ruche", "check", "--deploy"],
        ["ruche", "db_worker", "--queue-name", "default"],
    ]


def test_no_arguments_prints_usage(capsys):
    cli.main([])

    out = capsys.readouterr().out
    for command in (
        "ruche serve",
        "ruche migrate",
        "ruche demo",
        "ruche user create",
        "ruche token create",
        "ruche worker",
    ):
        assert command in out


@pytest.fixture
def ruche(tmp_path):
    """Runs `python -m ruche` on a fresh SQLite database of its own."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["RUCHE_VAR_DIR"] = str(tmp_path)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "ruche", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert run("migrate", "--no-input", "-v", "0").returncode == 0
    return run


def test_command_line_exit_codes_and_output(ruche):
    created = ruche("user", "create", "ana@example.fr", "--role", "rep", "--team", "Nord")
    assert created.returncode == 0, created.stderr

    duplicate = ruche("user", "create", "ana@example.fr", "--role", "rep")
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr

    bad_role = ruche("user", "create", "bob@example.fr", "--role", "chef")
    assert bad_role.returncode == 1
    assert "One of admin, manager, rep" in bad_role.stderr
    assert "Traceback" not in bad_role.stderr

    token = ruche("token", "create", "ana@example.fr")
    assert token.returncode == 0, token.stderr
    last_line = token.stdout.rstrip("\n").splitlines()[-1]
    assert len(last_line) == 40
    assert all(c in "0123456789abcdef" for c in last_line)
