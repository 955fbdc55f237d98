"""Fuzz `pulse apply` (docs/config-file.md) in process, through what the command runs (load_config, then
ConfigService.plan and apply): files built around the real schema with wrong values, misspelt keys
and broken YAML, and plain garbage. A file is applied, and applying it again changes nothing; or
it is refused with every problem located in the file, and nothing changes."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import event, example, given
from hypothesis import strategies as st

from bot.settings import Settings
from runtime.clock import SystemClock
from services.config_apply import ConfigService, plan_text
from services.config_file import ConfigError, load_config
from storage import Store
from tests.fuzz.common import any_text, changed_tables, control_text, fingerprint, fuzz, nasty, short_text
from tests.fuzz.conftest import PLANNED, SLUG, Seeded

USERS = ["U0OWNER", "U0CHAMP1", "U0CHAMP2", "U0DIRECT", "W0ENTERPR1"]
CHANNELS = ["C0LAUNCH01", "C0EARLY001", "G0PRIVATE1"]
STAGES = ["alpha", "beta", "ga", "pilot", "rc"]
KEYS = ["onboarding", "setup", "receipts", "submit-time"]
SCALES = ["csat", "ces", "thumbs", "minutes"]
# A value each metric family takes (docs/rollouts.md: “Gates”), and one it does not.
VALUES: dict[str, tuple[st.SearchStrategy[Any], object]] = {
    "nps": (st.integers(-100, 100), 101),
    "response_rate": (st.sampled_from([0, 0.4, "40%", 1]), 2),
    "responses": (st.integers(0, 1000), -1),
    "csat": (st.integers(0, 100), 101),
    "ces": (st.integers(1, 7), 8),
    "thumbs": (st.integers(0, 100), -1),
    "minutes": (st.integers(0, 1440), 1441),
}
NOT_CONFIG = ["[", "{a: b", "- 1\n- 2", "rollouts: 5", "rollouts:\n  - slug: [", "\t", "%", "rollouts:\n\t- x"]
SLIPS = ["", ":", "  ", "\t", "- ", "\n", "'", '"', "{", "&a", "*a"]
anything = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), any_text, st.just([]), st.just({}))


@st.composite
def config_files(draw: st.DrawFn) -> str:
    """A config file: right (the changes it asks for can be made), wrong in a few places (a wrong
    type, an unknown key, a value out of range, a name that does not exist), broken YAML, or none."""
    shape = draw(st.integers(0, 9))
    if shape == 0:  # no YAML, or not what a config file is
        return draw(st.one_of(any_text, control_text, nasty, st.sampled_from(NOT_CONFIG)))
    # A third of the files carry mistakes; the others are right, so that they get applied.
    faulty = draw(st.integers(0, 2)) == 0

    def pick(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
        return draw(bad) if faulty and draw(st.integers(0, 7)) == 0 else draw(good)

    def maybe(mapping: dict[str, Any], key: str, value: Any) -> None:
        if draw(st.booleans()):
            mapping[key] = value

    def ids(good: list[str], bad: list[str], least: int = 0) -> list[Any]:
        chosen: list[Any] = pick(
            st.lists(st.sampled_from(good), min_size=least, max_size=3, unique=True),
            st.lists(st.sampled_from(bad) | anything, max_size=3),
        )
        return chosen

    def rollout(slug: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"slug": pick(st.just(slug), st.sampled_from(["Bad Slug", "x", "a" * 41]) | anything)}
        spec["title"] = pick(st.sampled_from(["Expense tool", "Planned tool", "Über 🚀", "x" * 150]), anything | nasty)
        maybe(spec, "vision", pick(st.none() | any_text, st.just("v" * 2001) | anything))
        maybe(spec, "channel", pick(st.none() | st.sampled_from(CHANNELS), anything))
        maybe(spec, "owners", ids(USERS, ["bob", "u0owner", "C0LAUNCH01"], least=1))
        maybe(spec, "champions", ids(USERS, ["bob"]))
        maybe(spec, "auto_nps_after_days", pick(st.integers(0, 365), st.integers(-5, 1000) | anything))
        names = draw(st.lists(st.sampled_from(STAGES), min_size=1, max_size=4, unique=True))
        if slug == SLUG and not faulty:
            names = ["alpha", "beta", "ga"]  # it has started: its stages can no longer change
        if draw(st.booleans()):
            spec["stages"] = [stage(name) for name in names]
        touchpoints = {key: draw(st.sampled_from(SCALES)) for key in draw(st.lists(st.sampled_from(KEYS), unique=True))}
        listed = draw(st.booleans())
        if touchpoints or listed:
            spec["touchpoints"] = [touchpoint(key, scale) for key, scale in touchpoints.items()]
        metrics = ["nps", "response_rate", "responses", *(f"{scale}:{key}" for key, scale in touchpoints.items())]
        chosen = [
            (m, draw(st.sampled_from([None, *names]))) for m in draw(st.lists(st.sampled_from(metrics), unique=True))
        ]
        listed = draw(st.booleans())
        if chosen or listed:
            spec["targets"] = [target(metric, at if "stages" in spec else None) for metric, at in chosen]
        if faulty and not draw(st.integers(0, 5)):
            spec[draw(short_text)] = draw(anything)  # a misspelt or unknown setting
        return spec

    def stage(name: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": pick(st.just(name), st.sampled_from(["Alpha", "", "a b"]) | anything)}
        dates = st.dates().map(lambda d: d.isoformat()) | st.none()
        maybe(spec, "planned_start", pick(dates, st.sampled_from(["2026-13-45", "next week", "2026-02-30"]) | anything))
        cohort = {
            "users": ids(USERS, ["bob", "u0owner", "C0LAUNCH01"]),
            "usergroups": ids(["S0PILOTS1"], ["pilots", "U0OWNER"]),
            "channels": ids(CHANNELS, ["#launch", "D0DM"]),
        }
        maybe(spec, "cohort", {k: v for k, v in cohort.items() if draw(st.booleans())})
        return spec

    def touchpoint(key: str, scale: str) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "key": pick(st.just(key), st.sampled_from(["Onboarding", "", "a" * 41]) | anything),
            "label": pick(st.sampled_from(["Onboarding", "Setup", "Receipts", "y" * 150]), st.just("") | anything),
            "scale": pick(st.just(scale), st.sampled_from(["stars", "CSAT"]) | anything),
        }
        maybe(spec, "triggers", {"on_join": ids(CHANNELS, ["#onboarding"])})
        return spec

    def target(metric: str, at: str | None) -> dict[str, Any]:
        good, bad = VALUES[metric.split(":", maxsplit=1)[0]]
        spec = {
            "metric": pick(st.just(metric), st.sampled_from(["happiness", "csat:", "csat:nothing"]) | anything),
            "op": pick(st.sampled_from([">=", ">", "<=", "<", "==", "≥"]), st.sampled_from(["~", "!=", ""]) | anything),
            "value": pick(good, st.just(bad) | anything),
        }
        if at is not None:
            spec["stage"] = pick(st.just(at), st.sampled_from(["delta", "ALPHA"]) | anything)
        return spec

    def digest(channel: str) -> dict[str, Any]:
        spec = {"channel": pick(st.just(channel), st.sampled_from(["#leads"]) | anything)}
        crons = st.sampled_from(["0 9 * * MON", "*/15 * * * *", "0 9 * * 1-5", "0 9 1 * *", "0 9 * * sun-sat"])
        bad_crons = st.sampled_from(["every monday", "61 * * * *", "0 9 * * ²", "0 9 * * 8", "0 9"])
        maybe(spec, "cron", pick(crons, bad_crons | anything))
        zones = st.sampled_from(["Europe/Berlin", "UTC", "Asia/Tokyo"])
        bad_zones = st.sampled_from(["Mars/Olympus", "America", "Europe", "", "../etc/passwd", "/UTC", "UTC\x00"])
        maybe(spec, "timezone", pick(zones, bad_zones | anything))
        return spec

    slugs = draw(st.lists(st.sampled_from([SLUG, PLANNED, "cfg-one", "cfg-two"]), max_size=3, unique=True))
    data: dict[str, Any] = {"rollouts": [rollout(slug) for slug in slugs]}
    for spec in data["rollouts"]:
        if spec["slug"] in ("cfg-one", "cfg-two") and not spec.get("owners") and not faulty:
            spec["owners"] = ["U0OWNER"]  # a new rollout needs an owner
    if draw(st.booleans()):
        data["digests"] = [digest(c) for c in draw(st.lists(st.sampled_from(CHANNELS), max_size=2, unique=True))]
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if shape == 1:  # a slip of the keyboard: a character dropped, or replaced
        at = draw(st.integers(0, max(len(text) - 1, 0)))
        text = text[:at] + draw(st.sampled_from(SLIPS)) + text[at + 1 :]
    return text


def located_within(text: str, err: ConfigError) -> bool:
    lines = max(len(text.splitlines()), 1)
    return bool(err.problems) and all(
        1 <= p.line <= lines + 1 and p.column >= 1 and p.message.strip() for p in err.problems
    )


EXAMPLE_FILE = f"""\
rollouts:
  - slug: {PLANNED}
    title: Planned tool
    stages: [{{name: pilot}}, {{name: ga}}]
    targets:
      - {{metric: nps, op: ">=", value: 30, stage: pilot}}
digests:
  - {{channel: C0LAUNCH01, cron: "0 9 * * MON", timezone: Europe/Berlin}}
"""

RENAMED_STAGES = f"""\
rollouts:
  - slug: {PLANNED}
    title: Planned tool
    stages: [{{name: alpha}}, {{name: ga}}]
    targets: []
"""


@fuzz(max_examples=250)
@given(text=config_files())
@example(text=EXAMPLE_FILE)
# Was a bug (fixed): a time zone naming a folder of the zone database escaped as IsADirectoryError.
@example(text="digests:\n  - {channel: C0LAUNCH01, timezone: America}\n")
# Was a bug (fixed): renaming the stages of a planned rollout whose dropped stage had a target
# (EXAMPLE_FILE gave it one).
@example(text=RENAMED_STAGES)
async def test_a_config_file_is_applied_once_or_refused_with_located_problems_and_nothing_changed(
    store: Store, settings: Settings, seeded: Seeded, text: str
) -> None:
    service = ConfigService(store, settings, SystemClock())
    before = await fingerprint(store)
    refusal: ConfigError | None = None
    try:
        config, located = load_config(text)
        changes = await service.plan(config, located)
    except ConfigError as err:
        refusal = err
    if refusal is not None:
        event("refused")
        assert located_within(text, refusal), [str(p) for p in refusal.problems]
        assert changed_tables(before, await fingerprint(store)) == []
        return
    assert changed_tables(before, await fingerprint(store)) == [], "planning (a dry run) changed something"
    event("applied" if changes else "nothing to change")
    await service.apply(changes)
    # Applying the same file again changes nothing (docs/config-file.md).
    again = await service.plan(*load_config(text))
    assert again == [], plan_text(again)
