"""Answers are stored under a respondent key, never a Slack user ID (SPEC §3.6)."""

from __future__ import annotations

import hashlib
import hmac


def respondent_key(secret: str, wave_id: int, user_id: str) -> str:
    """HMAC-SHA256(secret, "wave_id:user_id"): stable for one person in one wave, so an answer
    can be changed and a person forgotten, but not readable back into a user ID."""
    return hmac.new(secret.encode(), f"{wave_id}:{user_id}".encode(), hashlib.sha256).hexdigest()
