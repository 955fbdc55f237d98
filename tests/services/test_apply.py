"""Config as code: `pulse apply FILE [--dry-run]` (docs/config-file.md)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.settings import Settings
from runtime.clock import ManualClock
from services.config_apply import ConfigService
from services.config_file import ConfigError, load_config
from storage import Store
from tests.bot.test_settings import _env

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pulse.yml"
TABLES = ("rollouts", "stages", "cohort_entries", "owners", "champions", "targets", "touchpoints", "triggers",
          "digest_subscriptions", "stage_approvers")  # fmt: skip


def pulse(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=_env(PULSE_DB=str(db)), capture_output=True, text=True, timeout=60
    )


def snapshot(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def write(tmp_path: Path, text: str, name: str = "pulse.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_the_example_applies_then_there_is_nothing_to_change(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    first = pulse(db, "apply", str(EXAMPLE))
    assert first.returncode == 0, first.stderr
    assert "29 change(s) made" in first.stdout
    after = snapshot(db)
    dry = pulse(db, "apply", str(EXAMPLE), "--dry-run")
    assert dry.returncode == 0 and dry.stdout.strip() == "Nothing to change."
    again = pulse(db, "apply", str(EXAMPLE))
    assert again.returncode == 0 and again.stdout.strip() == "Nothing to change."
    assert snapshot(db) == after
    # what the example says is what is stored
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT title, channel_id, status, language, on_regression FROM rollouts").fetchone() == (
            "Expense tool", "C0LAUNCH01", "planned", "sv", "pause",
        )  # fmt: skip
        assert conn.execute(
            "SELECT s.name, a.user_id FROM stage_approvers a JOIN stages s ON s.id = a.stage_id"
        ).fetchall() == [("beta", "U0LEAD0001")]
        assert conn.execute("SELECT label_variants FROM touchpoints WHERE key = 'onboarding'").fetchone() == (
            '{"en": "Onboarding session", "sv": "Introduktionspasset"}',
        )
        assert conn.execute("SELECT name, planned_start, soak_days FROM stages ORDER BY position").fetchall() == [
            ("alpha", "2026-12-01", 7), ("beta", "2027-01-11", 0), ("ga", "2027-02-15", 0),
        ]  # fmt: skip
        assert {r[0] for r in conn.execute("SELECT user_id FROM champions")} == {"U0CHAMP01", "U0CHAMP02"}
        assert conn.execute("SELECT count(*) FROM cohort_entries").fetchone() == (4,)
        assert conn.execute("SELECT count(*) FROM targets").fetchone() == (7,)
        assert conn.execute("SELECT value FROM targets WHERE metric = 'response_rate'").fetchone() == (0.4,)
        assert conn.execute("SELECT channel_id FROM triggers").fetchone() == ("C0ONBOARD1",)
        assert conn.execute("SELECT channel_id, cron, timezone, source FROM digest_subscriptions").fetchone() == (
            "C0LEADS001", "0 9 * * MON", "Europe/Berlin", "config",
        )  # fmt: skip


def test_a_broken_file_names_every_problem_with_its_line_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    assert pulse(db, "apply", str(EXAMPLE)).returncode == 0
    before = snapshot(db)
    broken = write(
        tmp_path,
        """\
        rollouts:
          - slug: Bad Slug
            title: Something
            owners: [bob]
            stages:
              - name: alpha
                planned_start: 2026-13-45
            colour: blue
          - slug: fine-one
        digests:
          - channel: "#leads"
        """,
    )
    result = pulse(db, "apply", str(broken))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"pulse: {broken}:2:11: rollouts[0].slug: 'Bad Slug' should be 2–40 lower-case letters, digits and dashes",
        f"pulse: {broken}:4:14: rollouts[0].owners[0]: 'bob' is not a Slack user ID (U… or W…)",
        f"pulse: {broken}:7:24: rollouts[0].stages[0].planned_start: '2026-13-45' is not a date (YYYY-MM-DD)",
        f"pulse: {broken}:8:13: rollouts[0].colour: is not a setting here (misspelt?)",
        f"pulse: {broken}:9:5: rollouts[1].title: is required",
        f"pulse: {broken}:11:14: digests[0].channel: '#leads' is not a channel ID (C… or G…)",
        f"pulse: {broken}: 6 problem(s); nothing was changed",
    ]
    assert "Traceback" not in result.stderr
    assert snapshot(db) == before


async def test_problems_found_against_the_store_are_located_too(store: Store, settings: Settings) -> None:
    service = ConfigService(store, settings, ManualClock(datetime(2026, 11, 23, tzinfo=UTC)))
    config, located = load_config(EXAMPLE.read_text())
    await service.apply(await service.plan(config, located))
    await store.execute("UPDATE rollouts SET status = 'active'")  # it has started since
    text = """\
        rollouts:
          - slug: expense-tool
            title: Expense tool
            stages: [{name: alpha}, {name: ga}]
            targets:
              - {metric: csat:nothing, op: ">=", value: 80}
              - {metric: nps, op: "~", value: 1}
          - slug: brand-new
            title: New
        digests:
          - {channel: C0LEADS001, cron: every monday}
        """
    config, located = load_config(textwrap.dedent(text))
    with pytest.raises(ConfigError) as caught:
        await service.plan(config, located)
    shown = [str(p) for p in caught.value.problems]
    assert shown == [
        "4:13: rollouts[0].stages: expense-tool has started, so its stages cannot change (they are alpha, beta, ga)",
        "6:18: rollouts[0].targets[0].metric: nothing is not a touchpoint of this rollout",
        "7:9: rollouts[0].targets[1]: “~” is not a comparison: use >=, >, <=, < or ==.",
        "8:5: rollouts[1]: brand-new is new, so it needs owners: (at least one user ID)",
        "11:33: digests[0].cron: “every monday” is not a cron schedule. Give five fields — minute hour day month "
        'weekday — in quotes, e.g. "0 9 * * MON" (Mondays at 09:00).',
    ]


def test_lists_present_in_the_file_are_the_whole_list(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    assert pulse(db, "apply", str(EXAMPLE)).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute(
            """INSERT INTO digest_subscriptions (channel_id, cron, timezone, source, created_by, created_at)
               VALUES ('C0BYHAND01', '0 9 * * MON', 'UTC', 'command', 'U0ADMIN01', 0)"""
        )
    smaller = write(
        tmp_path,
        """\
        rollouts:
          - slug: expense-tool
            title: Expense tool
            champions: [U0CHAMP02]
            stages:
              - name: alpha
                cohort: {users: [U0PILOT01]}
              - name: beta
              - name: ga
            targets:
              - {metric: nps, op: ">=", value: 40}
        digests: []
        """,
    )
    plan = pulse(db, "apply", str(smaller), "--dry-run")
    assert plan.stdout.splitlines()[:-1] == [
        "- expense-tool: champion U0CHAMP01",
        "- expense-tool alpha: cohort user U0PILOT02",
        "- expense-tool alpha: cohort usergroup S0PILOTS1",
        "~ expense-tool: target nps >= 40",
        "- expense-tool: target ces:submit",
        "- expense-tool: target minutes:submit-time",
        "- expense-tool: target thumbs:receipts",
        "- expense-tool: target responses (alpha)",
        "- expense-tool: target response_rate (beta)",
        "- expense-tool: target csat:onboarding (beta)",
        "- digest C0LEADS001",
    ]
    assert pulse(db, "apply", str(smaller)).returncode == 0
    with sqlite3.connect(db) as conn:
        # what the file leaves out stays: the vision, the beta cohort, the touchpoints, the hand-made digest
        assert conn.execute("SELECT vision IS NOT NULL FROM rollouts").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM cohort_entries").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM touchpoints").fetchone() == (4,)
        assert conn.execute("SELECT channel_id FROM digest_subscriptions").fetchall() == [("C0BYHAND01",)]
    assert pulse(db, "apply", str(smaller)).stdout.strip() == "Nothing to change."


def test_a_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    bad = write(tmp_path, "rollouts:\n  - slug: x\n   title: [unclosed\n")
    result = pulse(tmp_path / "pulse.db", "apply", str(bad))
    assert result.returncode == 2
    assert result.stderr.startswith(f"pulse: {bad}:3:") and "not valid YAML" in result.stderr


def test_a_missing_file_is_said_plainly(tmp_path: Path) -> None:
    result = pulse(tmp_path / "pulse.db", "apply", str(tmp_path / "nope.yml"))
    assert result.returncode == 2 and "cannot read" in result.stderr and "Traceback" not in result.stderr


def test_owners_texts_may_have_a_variant_per_language(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    both = write(
        tmp_path,
        """\
        rollouts:
          - slug: expense-tool
            title: {en: Expense tool, sv: Utläggsverktyget}
            vision: {sv: "Utlägg på två minuter.", en: "Expenses in two minutes."}
            owners: [U0OWNER01]
            touchpoints:
              - {key: submit, label: {en: Submitting, sv: Att lämna in}, scale: ces}
        """,
    )
    dry = pulse(db, "apply", str(both), "--dry-run")
    assert '+ rollout expense-tool "Expense tool" (en, sv)' in dry.stdout
    assert '+ expense-tool: touchpoint submit "Submitting" (en, sv) ces' in dry.stdout
    assert pulse(db, "apply", str(both)).returncode == 0
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT title, title_variants, vision, vision_variants FROM rollouts").fetchone()
        label = conn.execute("SELECT label, label_variants FROM touchpoints").fetchone()
    # The text written first is the one a reader with no variant of their own sees.
    assert stored == (
        "Expense tool", '{"en": "Expense tool", "sv": "Utläggsverktyget"}',
        "Utlägg på två minuter.", '{"sv": "Utlägg på två minuter.", "en": "Expenses in two minutes."}',
    )  # fmt: skip
    assert label == ("Submitting", '{"en": "Submitting", "sv": "Att lämna in"}')
    assert pulse(db, "apply", str(both)).stdout.strip() == "Nothing to change."

    # One text again: the variants go.
    one = write(tmp_path, "rollouts:\n  - slug: expense-tool\n    title: Expense tool\n", "one.yml")
    assert '~ expense-tool: title "Expense tool"\n' in pulse(db, "apply", str(one)).stdout + "\n"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT title, title_variants, vision_variants FROM rollouts").fetchone() == (
            "Expense tool", None, '{"sv": "Utlägg på två minuter.", "en": "Expenses in two minutes."}',
        )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{fr: Outil}", "4:12: rollouts[0].title: 'fr' is not a language the bot speaks (en or sv)"),
        ("{}", "4:12: rollouts[0].title: give the text, or one text per language ({en: …, sv: …})"),
        ('{en: ""}', "4:12: rollouts[0].title: en: should be 1–150 characters, not 0"),
        ("{en: [a]}", "4:12: rollouts[0].title: en: should be text"),
        ("[a, b]", "4:12: rollouts[0].title: should be text, or one text per language ({en: …, sv: …})"),
    ],
)
def test_a_bad_variant_is_located_and_changes_nothing(tmp_path: Path, value: str, expected: str) -> None:
    db = tmp_path / "pulse.db"
    bad = write(tmp_path, f"rollouts:\n  - slug: expense-tool\n    owners: [U0OWNER01]\n    title: {value}\n")
    result = pulse(db, "apply", str(bad))
    assert result.returncode == 2 and f"{bad}:{expected}" in result.stderr, result.stderr
    assert not db.exists() or snapshot(db)["rollouts"] == []


async def test_guards_in_the_file_are_applied_and_checked(store: Store, settings: Settings) -> None:
    service = ConfigService(store, settings, ManualClock(datetime(2026, 11, 23, tzinfo=UTC)))
    config, located = load_config(EXAMPLE.read_text())
    await service.apply(await service.plan(config, located))
    text = """\
        rollouts:
          - slug: expense-tool
            title: Expense tool
            on_regression: notify
            stages:
              - {name: alpha, approvers: [U0LEAD0001]}
              - {name: beta, approvers: []}
              - {name: ga}
        """
    config, located = load_config(textwrap.dedent(text))
    with pytest.raises(ConfigError) as caught:
        await service.plan(config, located)
    assert [str(p) for p in caught.value.problems] == [
        "6:34: rollouts[0].stages[0].approvers: alpha is the first stage: nothing advances into it"
    ]
    config, located = load_config(
        textwrap.dedent(text.replace("{name: alpha, approvers: [U0LEAD0001]}", "{name: alpha}"))
    )
    plan = await service.plan(config, located)
    assert [c.text for c in plan] == [
        "~ expense-tool: on a clear regression: notify",
        "~ expense-tool beta: approvers none",
    ]
    await service.apply(plan)
    assert await store.fetch_value("SELECT count(*) FROM stage_approvers") == 0
    assert await store.fetch_value("SELECT on_regression FROM rollouts") == "notify"
    with pytest.raises(ConfigError) as caught:
        load_config("rollouts:\n  - {slug: x-y, title: X, on_regression: explode}\n")
    assert "on_regression" in str(caught.value.problems[0])
