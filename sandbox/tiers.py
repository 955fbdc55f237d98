"""Slack's published rate limit of each Web API method the bot calls: the one table the stand-in
holds calls to when a test or benchmark asks for it (`SlackStandIn.faults.hold_to_tiers`).

Sources (read 2025):
- the tiers: https://docs.slack.dev/apis/web-api/rate-limits — Tier 1 "1+ per minute", Tier 2
  "20+ per minute", Tier 3 "50+ per minute", Tier 4 "100+ per minute", each "per API method per
  workspace/team per app", with bursts tolerated; the Special tier: "chat.postMessage generally
  allows posting one message per second per channel, while also maintaining a workspace-wide
  limit"; "Posting messages: 1 per second, short bursts >1 allowed".
- each method's tier: its page, https://docs.slack.dev/reference/methods/<method> ("Rate Limits").
- chat.postMessage's workspace-wide limit is published only as "several hundred messages per
  minute": WORKSPACE_POSTS_PER_MINUTE takes the low end of that.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "https://docs.slack.dev/apis/web-api/rate-limits"


@dataclass(frozen=True)
class Limit:
    """Calls a minute (Slack counts per minute) and how many may come at once."""

    name: str
    per_minute: float
    burst: float

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


# The tiers' published floors ("N+ per minute"); a minute's worth may come at once, as Slack
# evaluates its limits over minute windows and "sporadic bursts are welcome".
TIER_1 = Limit("Tier 1", 1, 1)
TIER_2 = Limit("Tier 2", 20, 20)
TIER_3 = Limit("Tier 3", 50, 50)
TIER_4 = Limit("Tier 4", 100, 100)
# chat.postMessage: one a second in each channel ("short bursts >1 allowed": a few), and the
# workspace-wide limit over all channels together.
POST_PER_CHANNEL = Limit("Special: 1 per second per channel", 60, 3)
WORKSPACE_POSTS_PER_MINUTE = 300
POST_PER_WORKSPACE = Limit("Special: workspace-wide", WORKSPACE_POSTS_PER_MINUTE, 30)

# The method's limit, as its page states it. chat.postMessage is special: see PER_CHANNEL.
METHOD_LIMITS: dict[str, Limit] = {
    "apps.connections.open": TIER_1,
    "auth.test": TIER_4,  # its page says "Special" with no number: held like Tier 4
    "chat.delete": TIER_3,
    "chat.postEphemeral": TIER_4,
    "chat.postMessage": POST_PER_WORKSPACE,
    "chat.update": TIER_3,
    "conversations.history": TIER_3,  # 1 a minute for commercial non-Marketplace apps (May 2025)
    "conversations.info": TIER_3,
    "conversations.members": TIER_4,
    "conversations.open": TIER_3,
    "files.completeUploadExternal": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.info": TIER_4,
    "usergroups.users.list": TIER_2,
    "users.info": TIER_4,
    "users.list": TIER_2,
    "users.lookupByEmail": TIER_3,
    "views.open": TIER_4,
    "views.publish": TIER_4,
    "views.push": TIER_4,
    "views.update": TIER_4,
}

# Methods limited per channel as well as per workspace.
PER_CHANNEL: dict[str, Limit] = {"chat.postMessage": POST_PER_CHANNEL}

# The methods whose documented errors include `rate_limited` (HTTP 200, ok: false) besides the
# 429 `ratelimited` every method can answer (slackapi/slack-api-specs, web-api/
# slack_web_openapi_v2.json: the error enums of chat.postMessage and chat.update).
ANSWER_RATE_LIMITED_WITH_200 = frozenset({"chat.postMessage", "chat.update"})
