"""How each kind of outbox row reads when it is sent."""

from __future__ import annotations

from bot.services.announcements import Announcement
from handlers.blocks.announcement import build_announcement
from handlers.blocks.text import Message
from storage.models import OutboxItem


def render_outbox_item(item: OutboxItem) -> Message:
    if item.kind == "announcement":
        return build_announcement(Announcement.model_validate_json(item.payload))
    raise ValueError(f"no renderer for outbox rows of kind {item.kind!r}")
