from __future__ import annotations

import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings, require_for_serving
from services.quiet_hours import QuietHours
from tests.support import PROXY_VARIABLES


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("SLACK_", "PULSE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_follow_the_spec_table() -> None:
    s = load_settings()
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.pulse_db == Path("./pulse.db")
    assert (s.pulse_host, s.pulse_port) == ("127.0.0.1", 3000)
    assert s.pulse_admins == frozenset()
    assert s.pulse_timezone == "UTC"
    assert s.pulse_min_group == 5
    assert s.pulse_quiet_hours == QuietHours(time(9), time(17))
    assert s.pulse_min_days_between_surveys == 14
    assert s.pulse_remind_after_hours == 48
    assert s.pulse_wave_days == 7
    assert s.pulse_log_format == "console"
    assert s.pulse_language == "en"
    assert s.pulse_secret_key is None and s.pulse_api_token is None and s.slack_app_token is None


def test_values_come_from_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PULSE_ADMINS=U01AAA, U02BBB\nPULSE_QUIET_HOURS=off\nPULSE_PORT=4000\n")
    monkeypatch.setenv("PULSE_PORT", "5000")  # the environment wins over .env
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    s = load_settings()
    assert s.pulse_admins == frozenset({"U01AAA", "U02BBB"})
    assert s.pulse_quiet_hours is None
    assert s.pulse_port == 5000
    assert s.slack_api_url == "http://127.0.0.1:9/api/"
    assert s.is_admin("U01AAA") and not s.is_admin("U03CCC")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PULSE_PORT", "abc", "whole number from 0 to 65535"),
        ("PULSE_PORT", "70000", "whole number from 0 to 65535"),
        ("PULSE_ADMINS", "U01AAA,bob", "comma-separated Slack user IDs"),
        ("PULSE_TIMEZONE", "Mars/Olympus", "IANA time zone"),
        ("PULSE_TIMEZONE", "America", "IANA time zone"),  # a folder of the zone database
        ("PULSE_QUIET_HOURS", "17:00-09:00", "HH:MM-HH:MM"),
        ("PULSE_QUIET_HOURS", "9-5", "HH:MM-HH:MM"),
        ("PULSE_QUIET_HOURS", "\u0660\u0669:00-17:00", "HH:MM-HH:MM"),  # Arabic-Indic digits
        ("PULSE_MIN_GROUP", "0", "at least 1"),
        ("PULSE_WAVE_DAYS", "-1", "at least 1"),
        ("PULSE_LOG_FORMAT", "xml", "console or json"),
        ("PULSE_LANGUAGE", "fr", "en or sv"),
        ("PULSE_REPLY_DELAY_MINUTES", "240-60", "the low end first"),
        ("PULSE_REPLY_DELAY_MINUTES", "an hour", "minutes, or a range of them"),
        ("PULSE_REPLY_DELAY_MINUTES", "-5", "minutes, or a range of them"),
        ("PULSE_REPLY_DELAY_MINUTES", "\u0660\u0669", "minutes, or a range of them"),  # Arabic-Indic digits
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "starting with xoxb-"),
        ("SLACK_APP_TOKEN", "xoxb-wrong", "starting with xapp-"),
        ("SLACK_API_URL", "slack.com", "http(s) URL"),
        ("PULSE_SECRET_KEY", "short", "at least 32 characters"),
        ("PULSE_API_TOKEN", "short", "at least 16 characters"),
    ],
)
def test_a_malformed_variable_is_named_with_its_expected_form(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert len(caught.value.lines) == 1
    line = caught.value.lines[0]
    assert line.startswith(f"{variable} is malformed")
    assert expected in line
    if "TOKEN" in variable or "SECRET" in variable:
        assert value not in line  # secrets are never echoed


def test_serving_requires_the_bot_token_and_in_http_mode_the_signing_secret() -> None:
    with pytest.raises(SettingsError) as caught:
        require_for_serving(load_settings())
    assert [line.split(" ")[0] for line in caught.value.lines] == ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]
    socket_mode = Settings(_env_file=None, slack_bot_token="xoxb-1", slack_app_token="xapp-1")
    require_for_serving(socket_mode)  # no signing secret needed in Socket Mode


def _pulse(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def _env(**extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PULSE_")) and k not in PROXY_VARIABLES}
    env.update(extra)
    return env


def test_pulse_serve_without_a_token_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    result = _pulse(["serve"], _env(SLACK_SIGNING_SECRET="s3cret"), tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "SLACK_BOT_TOKEN is not set" in lines[0]
    assert "OAuth & Permissions" in lines[0]  # and how to get one


def test_pulse_with_a_malformed_setting_exits_2_without_traceback(tmp_path: Path) -> None:
    result = _pulse(["migrate"], _env(PULSE_QUIET_HOURS="whenever"), tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "pulse: PULSE_QUIET_HOURS is malformed ('whenever'): expected HH:MM-HH:MM with the start "
        "before the end, such as 09:00-17:00, or off."
    )


def test_python_m_bot_is_the_pulse_command(tmp_path: Path) -> None:
    result = _pulse(["--help"], _env(), tmp_path)
    assert result.returncode == 0
    for command in ("serve", "migrate", "backup"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("value", "delay"), [("60-240", (60, 240)), ("0", (0, 0)), (" 30 ", (30, 30)), ("5-5", (5, 5))]
)
def test_the_reply_delay_is_minutes_or_a_range(
    monkeypatch: pytest.MonkeyPatch, value: str, delay: tuple[int, int]
) -> None:
    monkeypatch.setenv("PULSE_REPLY_DELAY_MINUTES", value)
    assert Settings(_env_file=None).pulse_reply_delay_minutes == delay
