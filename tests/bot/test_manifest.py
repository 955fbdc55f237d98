from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

# Vendored from slackapi/manifest-schema (MIT) so the check runs on every clone; see tests/slack/README.md.
SCHEMA = Path(__file__).resolve().parents[1] / "slack" / "manifest.schema.1.0.0.json"


@pytest.fixture
def manifest(repo_root: Path) -> dict[str, Any]:
    loaded = yaml.safe_load((repo_root / "manifest.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_manifest_is_valid_against_slacks_published_schema(manifest: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(manifest)


def test_manifest_declares_what_the_bot_needs(manifest: dict[str, Any]) -> None:
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {"/rollout", "/pulse"}
    for command in commands.values():
        assert command["should_escape"] is True
        assert command["description"] and command["usage_hint"]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= {
        "chat:write", "commands", "im:write", "users:read", "users:read.email", "usergroups:read",
        "channels:read", "groups:read", "files:write",
    }  # fmt: skip
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "member_joined_channel",
    }
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True


def test_the_schema_check_catches_a_broken_manifest(manifest: dict[str, Any]) -> None:
    manifest["features"]["slash_commands"][0]["should_escape"] = "yes"
    manifest["display_information"]["name"] = "x" * 36
    schema = json.loads(SCHEMA.read_text())
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(manifest))
    assert len(errors) == 2
