"""Every setting (docs/operations.md: “Settings”), read from the environment and `.env`, checked once at start-up."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from runtime.i18n import DEFAULT_LANGUAGE, LANGUAGES
from runtime.timezones import parse_zone
from services.quiet_hours import QuietHours

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)\Z", re.ASCII)


# What each variable should look like, in the words the start-up error uses.
EXPECTED: dict[str, str] = {
    "SLACK_BOT_TOKEN": "a bot token starting with xoxb- (Slack app settings → OAuth & Permissions → "
    "Bot User OAuth Token)",
    "SLACK_SIGNING_SECRET": "the app's signing secret (Slack app settings → Basic Information → "
    "App Credentials → Signing Secret); required unless SLACK_APP_TOKEN selects Socket Mode",
    "SLACK_APP_TOKEN": "an app-level token starting with xapp- with the connections:write scope "
    "(Slack app settings → Basic Information → App-Level Tokens)",
    "SLACK_API_URL": "an http(s) URL such as https://slack.com/api/",
    "PULSE_DB": "a path to the SQLite file, such as ./pulse.db",
    "PULSE_HOST": "a host name or IP address to listen on, such as 127.0.0.1",
    "PULSE_PORT": "a whole number from 0 to 65535",
    "PULSE_ADMINS": "comma-separated Slack user IDs, such as U012ABCDEF,U034GHIJKL",
    "PULSE_TIMEZONE": "an IANA time zone name, such as UTC or Europe/Berlin",
    "PULSE_SECRET_KEY": "at least 32 characters of random text (or leave it unset to use the key file)",
    "PULSE_KEY_FILE": "a path to the key file, such as ./pulse.db.key (created on first start when missing)",
    "PULSE_API_TOKEN": "at least 16 characters of random text (or leave it unset to turn the API off)",
    "PULSE_MIN_GROUP": "a whole number of at least 1",
    "PULSE_QUIET_HOURS": "HH:MM-HH:MM with the start before the end, such as 09:00-17:00, or off",
    "PULSE_REPLY_DELAY_MINUTES": "minutes, or a range of them such as 60-240 (the low end first); 0 sends at once",
    "PULSE_MIN_DAYS_BETWEEN_SURVEYS": "a whole number of days, 0 or more",
    "PULSE_REMIND_AFTER_HOURS": "a whole number of hours, 0 (no reminder) or more",
    "PULSE_WAVE_DAYS": "a whole number of days, at least 1",
    "PULSE_LOG_FORMAT": "console or json",
    "PULSE_LANGUAGE": "one of the languages the bot speaks: " + " or ".join(LANGUAGES),
}


class Settings(BaseSettings):
    """Rollout Pulse settings; field names map to the upper-case variables in docs/operations.md: “Settings”."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
        frozen=True,
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    pulse_db: Path = Path("./pulse.db")
    pulse_host: str = "127.0.0.1"
    pulse_port: int = Field(default=3000, ge=0, le=65535)
    pulse_admins: Annotated[frozenset[str], NoDecode] = frozenset()
    pulse_timezone: str = "UTC"
    pulse_secret_key: SecretStr | None = None
    pulse_key_file: Path | None = None
    pulse_api_token: SecretStr | None = None
    pulse_min_group: int = Field(default=5, ge=1)
    pulse_quiet_hours: Annotated[QuietHours | None, NoDecode] = QuietHours(time(9), time(17))
    # How long a reply to an anonymous comment waits, at random within this range, before it goes.
    pulse_reply_delay_minutes: Annotated[tuple[int, int], NoDecode] = (60, 240)
    pulse_min_days_between_surveys: int = Field(default=14, ge=0)
    pulse_remind_after_hours: int = Field(default=48, ge=0)
    pulse_wave_days: int = Field(default=7, ge=1)
    pulse_log_format: Literal["console", "json"] = "console"
    # The language of whoever has chosen none and set none in Slack, and of channel posts.
    pulse_language: str = DEFAULT_LANGUAGE

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("not a bot token")
        return v

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("not an app-level token")
        return v

    @field_validator(
        "slack_signing_secret",
        "slack_app_token",
        "pulse_api_token",
        "pulse_secret_key",
        "pulse_key_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+(/\S*)?$", v):
            raise ValueError("not an http(s) URL")
        return v if v.endswith("/") else v + "/"

    @field_validator("pulse_host")
    @classmethod
    def _host(cls, v: str) -> str:
        if not v or any(c.isspace() for c in v):
            raise ValueError("empty or contains spaces")
        return v

    @field_validator("pulse_admins", mode="before")
    @classmethod
    def _admins(cls, v: object) -> object:
        if isinstance(v, str):
            ids = [part.strip() for part in v.split(",") if part.strip()]
            bad = [i for i in ids if not _USER_ID.match(i)]
            if bad:
                raise ValueError(f"not a user ID: {bad[0]}")
            return frozenset(ids)
        return v

    @field_validator("pulse_timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        if parse_zone(v) is None:
            raise ValueError("unknown time zone")
        return v

    @field_validator("pulse_language")
    @classmethod
    def _language(cls, v: str) -> str:
        code = v.strip().lower()
        if code not in LANGUAGES:
            raise ValueError(f"not one of the languages the bot speaks ({', '.join(LANGUAGES)})")
        return code

    @field_validator("pulse_secret_key")
    @classmethod
    def _secret_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 32:
            raise ValueError("too short")
        return v

    @field_validator("pulse_api_token")
    @classmethod
    def _api_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 16:
            raise ValueError("too short")
        return v

    @field_validator("pulse_quiet_hours", mode="before")
    @classmethod
    def _quiet_hours(cls, v: object) -> object:
        if not isinstance(v, str):
            return v
        text = v.strip().lower()
        if text == "off":
            return None
        parts = text.split("-")
        matches = [_HHMM.match(p.strip()) for p in parts] if len(parts) == 2 else []
        if len(matches) != 2 or not all(matches):
            raise ValueError("not HH:MM-HH:MM")
        start, end = (time(int(m.group(1)), int(m.group(2))) for m in matches if m)
        if start >= end:
            raise ValueError("the start must be before the end")
        return QuietHours(start, end)

    @field_validator("pulse_reply_delay_minutes", mode="before")
    @classmethod
    def _reply_delay(cls, v: object) -> object:
        if not isinstance(v, str):
            return v
        parts = [p.strip() for p in v.split("-")]
        if len(parts) > 2 or not all(re.fullmatch(r"[0-9]{1,5}", p) for p in parts):
            raise ValueError("not minutes or a range of minutes")
        low, high = int(parts[0]), int(parts[-1])
        if low > high:
            raise ValueError("the low end must come first")
        return (low, high)

    # -- derived values -------------------------------------------------------------------------

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.pulse_timezone)

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.pulse_admins


class SettingsError(Exception):
    """A setting is missing or malformed; `lines` each name one variable and its expected form."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _describe(variable: str, got: object | None) -> str:
    expected = EXPECTED.get(variable, "a valid value")
    if got is None:
        return f"{variable} is not set: expected {expected}."
    shown = "(hidden)" if "TOKEN" in variable or "SECRET" in variable else repr(got)
    return f"{variable} is malformed ({shown}): expected {expected}."


def load_settings(**overrides: object) -> Settings:
    """Read the settings or raise SettingsError with one line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines: list[str] = []
        for err in exc.errors():
            variable = str(err["loc"][0]).upper() if err["loc"] else "SETTINGS"
            line = _describe(variable, err.get("input"))
            if line not in lines:
                lines.append(line)
        raise SettingsError(lines) from None


def require_for_serving(settings: Settings) -> None:
    """`pulse serve` needs credentials that `migrate` and `backup` do not."""
    lines: list[str] = []
    if settings.slack_bot_token is None:
        lines.append(_describe("SLACK_BOT_TOKEN", None))
    if not settings.socket_mode and settings.slack_signing_secret is None:
        lines.append(_describe("SLACK_SIGNING_SECRET", None))
    if lines:
        raise SettingsError(lines)
