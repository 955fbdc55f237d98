"""A small seeded workspace for the rollout and survey tests."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.stand_in import SlackStandIn
from sandbox.workspace import BOT_USER_ID


@dataclass
class World:
    owner: str
    stranger: str
    champions: list[str]
    direct: str  # a person added to a cohort by name
    pilots_group: str  # user group with three people
    pilots: list[str]
    early_channel: str  # channel whose members form the beta cohort
    early: list[str]  # its human, active members
    gone: str  # deactivated, in the early channel
    launch: str  # announcement channel (the bot is a member)


def seed_world(standin: SlackStandIn) -> World:
    ws = standin.workspace
    owner = ws.add_user("U0OWNER", "olga", "Olga Owner", email="olga@example.com", tz="Europe/Berlin").id
    stranger = ws.add_user("U0STRANGER", "sam", "Sam Stranger", tz="America/New_York").id
    champions = [
        ws.add_user("U0CHAMP1", "chloe", "Chloe Champion", tz="Asia/Tokyo").id,
        ws.add_user("U0CHAMP2", "carl", "Carl Champion", tz="Europe/London").id,
    ]
    direct = ws.add_user("U0DIRECT", "dora", "Dora Direct").id
    pilots = [ws.add_user(f"U0PILOT{i}", f"pilot{i}").id for i in range(3)]
    group = ws.add_usergroup("pilots", pilots).id
    early = [ws.add_user(f"U0EARLY{i}", f"early{i}").id for i in range(4)]
    gone = ws.add_user("U0GONE", "gone", deleted=True).id
    robot = ws.add_user("U0ROBOT", "robot", is_bot=True).id
    # pilot0 is also in the channel: people count once
    early_channel = ws.add_channel("early-adopters", [*early, gone, robot, pilots[0], BOT_USER_ID]).id
    launch = ws.add_channel("launch", [owner, *champions, BOT_USER_ID]).id
    return World(owner, stranger, champions, direct, group, pilots, early_channel, early, gone, launch)
