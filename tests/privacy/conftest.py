"""The privacy tests' workspace: the seeded world, surveys at any hour unless a test says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from sandbox.stand_in import SlackStandIn
from tests.conftest import make_settings


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off")
