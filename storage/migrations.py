"""Numbered schema migrations, each applied and recorded in one transaction.

Append new migrations; never edit one that has shipped. Times are INTEGER Unix seconds (UTC);
calendar dates are TEXT `YYYY-MM-DD`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


class MigrationError(Exception):
    """A migration failed (and was rolled back), or the database is newer than this code."""


_INITIAL = (
    # Settings the bot keeps for itself (since migration 5, never a key: only a key's check value).
    """CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID""",
    # -- rollouts and their stages (docs/rollouts.md) -------------------------
    """CREATE TABLE rollouts (
        id                  INTEGER PRIMARY KEY,
        slug                TEXT NOT NULL UNIQUE
                            CHECK (length(slug) BETWEEN 2 AND 40
                                   AND slug NOT GLOB '*[^a-z0-9-]*' AND substr(slug, 1, 1) != '-'),
        title               TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 150),
        vision              TEXT CHECK (vision IS NULL OR length(vision) <= 2000),
        status              TEXT NOT NULL DEFAULT 'planned'
                            CHECK (status IN ('planned', 'active', 'paused', 'completed')),
        current_stage_id    INTEGER REFERENCES stages(id),
        channel_id          TEXT,
        auto_nps_after_days INTEGER NOT NULL DEFAULT 7 CHECK (auto_nps_after_days >= 0),
        created_by          TEXT NOT NULL,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL
    )""",
    """CREATE TABLE stages (
        id            INTEGER PRIMARY KEY,
        rollout_id    INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        position      INTEGER NOT NULL CHECK (position >= 1),
        name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 40),
        planned_start TEXT CHECK (planned_start IS NULL OR date(planned_start) IS planned_start),
        entered_at    INTEGER,
        left_at       INTEGER,
        UNIQUE (rollout_id, position),
        UNIQUE (rollout_id, name)
    )""",
    """CREATE TABLE owners (
        rollout_id INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL,
        added_by   TEXT NOT NULL,
        added_at   INTEGER NOT NULL,
        PRIMARY KEY (rollout_id, user_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE champions (
        rollout_id INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL,
        added_by   TEXT NOT NULL,
        added_at   INTEGER NOT NULL,
        PRIMARY KEY (rollout_id, user_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX champions_user ON champions(user_id)",
    "CREATE INDEX owners_user ON owners(user_id)",
    # A cohort entry is a user, a user group or a channel, resolved to people at each use.
    """CREATE TABLE cohort_entries (
        id       INTEGER PRIMARY KEY,
        stage_id INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        kind     TEXT NOT NULL CHECK (kind IN ('user', 'usergroup', 'channel')),
        ref      TEXT NOT NULL,
        label    TEXT,
        added_by TEXT NOT NULL,
        added_at INTEGER NOT NULL,
        UNIQUE (stage_id, kind, ref)
    )""",
    # A target applies to every stage (stage_id NULL) or to one stage.
    """CREATE TABLE targets (
        id         INTEGER PRIMARY KEY,
        rollout_id INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        stage_id   INTEGER REFERENCES stages(id) ON DELETE CASCADE,
        metric     TEXT NOT NULL,
        op         TEXT NOT NULL CHECK (op IN ('>=', '>', '<=', '<', '==')),
        value      REAL NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
    )""",
    "CREATE UNIQUE INDEX targets_one_per_metric ON targets(rollout_id, ifnull(stage_id, 0), metric)",
    """CREATE TABLE touchpoints (
        id         INTEGER PRIMARY KEY,
        rollout_id INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        key        TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 40),
        label      TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 150),
        scale      TEXT NOT NULL CHECK (scale IN ('csat', 'ces', 'thumbs', 'minutes')),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (rollout_id, key)
    )""",
    """CREATE TABLE triggers (
        id            INTEGER PRIMARY KEY,
        touchpoint_id INTEGER NOT NULL REFERENCES touchpoints(id) ON DELETE CASCADE,
        kind          TEXT NOT NULL CHECK (kind IN ('on-join')),
        channel_id    TEXT NOT NULL,
        created_by    TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        UNIQUE (touchpoint_id, kind, channel_id)
    )""",
    "CREATE INDEX triggers_channel ON triggers(channel_id)",
    # Every stage change, the source of history, announcements and chart markers (docs/rollouts.md: “Stage changes”).
    """CREATE TABLE stage_transitions (
        id            INTEGER PRIMARY KEY,
        rollout_id    INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        kind          TEXT NOT NULL
                      CHECK (kind IN ('start', 'advance', 'rollback', 'complete', 'pause', 'resume')),
        from_stage_id INTEGER REFERENCES stages(id) ON DELETE SET NULL,
        to_stage_id   INTEGER REFERENCES stages(id) ON DELETE SET NULL,
        actor         TEXT NOT NULL,
        reason        TEXT CHECK (reason IS NULL OR length(reason) <= 500),
        gates         TEXT,
        overridden    INTEGER NOT NULL DEFAULT 0 CHECK (overridden IN (0, 1)),
        cohort_size   INTEGER,
        at            INTEGER NOT NULL
    )""",
    "CREATE INDEX stage_transitions_rollout ON stage_transitions(rollout_id, at)",
    # -- surveys (docs/surveys.md: “Waves”) -------------------------------------------
    """CREATE TABLE waves (
        id            INTEGER PRIMARY KEY,
        rollout_id    INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        stage_id      INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        kind          TEXT NOT NULL CHECK (kind IN ('nps', 'touchpoint')),
        touchpoint_id INTEGER REFERENCES touchpoints(id) ON DELETE CASCADE,
        origin        TEXT NOT NULL CHECK (origin IN ('send', 'auto', 'ask', 'on-join', 'api')),
        opened_by     TEXT,
        opened_at     INTEGER NOT NULL,
        closes_at     INTEGER NOT NULL,
        closed_at     INTEGER,
        CHECK ((kind = 'nps') = (touchpoint_id IS NULL))
    )""",
    "CREATE INDEX waves_rollout ON waves(rollout_id, opened_at)",
    "CREATE INDEX waves_open ON waves(closes_at) WHERE closed_at IS NULL",
    # Who was asked and whether they answered; never what they answered (docs/privacy.md: “What is stored”).
    """CREATE TABLE deliveries (
        id          INTEGER PRIMARY KEY,
        wave_id     INTEGER NOT NULL REFERENCES waves(id) ON DELETE CASCADE,
        user_id     TEXT NOT NULL,
        status      TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped')),
        reason      TEXT,
        not_before  INTEGER NOT NULL DEFAULT 0,
        attempts    INTEGER NOT NULL DEFAULT 0,
        dm_channel  TEXT,
        message_ts  TEXT,
        answered    INTEGER NOT NULL DEFAULT 0 CHECK (answered IN (0, 1)),
        created_at  INTEGER NOT NULL,
        sent_at     INTEGER,
        UNIQUE (wave_id, user_id)
    )""",
    "CREATE INDEX deliveries_due ON deliveries(not_before) WHERE status IN ('pending', 'sending')",
    "CREATE INDEX deliveries_user ON deliveries(user_id, created_at)",
    # What was answered, under a respondent key, never by user ID (rebuilt by migration 5).
    # rollout, stage, kind and touchpoint are copied from the wave so metrics need no join.
    """CREATE TABLE responses (
        id             INTEGER PRIMARY KEY,
        wave_id        INTEGER NOT NULL REFERENCES waves(id) ON DELETE CASCADE,
        rollout_id     INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        stage_id       INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        kind           TEXT NOT NULL CHECK (kind IN ('nps', 'touchpoint')),
        touchpoint_id  INTEGER REFERENCES touchpoints(id) ON DELETE CASCADE,
        respondent_key TEXT NOT NULL,
        score          REAL NOT NULL,
        answered_at    INTEGER NOT NULL,
        UNIQUE (wave_id, respondent_key)
    )""",
    "CREATE INDEX responses_rollout_time ON responses(rollout_id, answered_at)",
    "CREATE INDEX responses_stage ON responses(stage_id, kind, touchpoint_id)",
    "CREATE INDEX responses_respondent ON responses(respondent_key)",
    """CREATE TABLE comments (
        id             INTEGER PRIMARY KEY,
        wave_id        INTEGER NOT NULL REFERENCES waves(id) ON DELETE CASCADE,
        rollout_id     INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        stage_id       INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        respondent_key TEXT NOT NULL,
        body           TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 3000),
        created_at     INTEGER NOT NULL,
        UNIQUE (wave_id, respondent_key)
    )""",
    "CREATE INDEX comments_rollout_time ON comments(rollout_id, created_at)",
    "CREATE INDEX comments_respondent ON comments(respondent_key)",
    # -- digests (docs/digests.md) -----------------------------------------------------
    """CREATE TABLE digest_subscriptions (
        id         INTEGER PRIMARY KEY,
        channel_id TEXT NOT NULL UNIQUE,
        cron       TEXT NOT NULL,
        timezone   TEXT NOT NULL,
        source     TEXT NOT NULL DEFAULT 'command' CHECK (source IN ('command', 'config')),
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
    )""",
    # One row per (subscription, period): the record that makes each post happen exactly once.
    """CREATE TABLE digest_runs (
        id              INTEGER PRIMARY KEY,
        subscription_id INTEGER REFERENCES digest_subscriptions(id) ON DELETE SET NULL,
        channel_id      TEXT NOT NULL,
        period_start    INTEGER NOT NULL,
        period_end      INTEGER NOT NULL,
        trigger         TEXT NOT NULL CHECK (trigger IN ('schedule', 'catch-up', 'now')),
        status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'posting', 'posted', 'failed', 'skipped')),
        message_ts      TEXT,
        error           TEXT,
        created_at      INTEGER NOT NULL,
        posted_at       INTEGER
    )""",
    """CREATE UNIQUE INDEX digest_runs_once ON digest_runs(subscription_id, period_end)
       WHERE subscription_id IS NOT NULL""",
    # -- outgoing messages other than survey DMs: announcements, reminders (docs/reliability.md: “Exactly once”) ---
    """CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        kind            TEXT NOT NULL,
        dedupe_key      TEXT NOT NULL UNIQUE,
        transition_id   INTEGER REFERENCES stage_transitions(id) ON DELETE CASCADE,
        delivery_id     INTEGER REFERENCES deliveries(id) ON DELETE CASCADE,
        channel         TEXT NOT NULL,
        payload         TEXT NOT NULL,
        status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        error           TEXT,
        next_attempt_at INTEGER NOT NULL DEFAULT 0,
        message_ts      TEXT,
        created_at      INTEGER NOT NULL,
        sent_at         INTEGER
    )""",
    "CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status IN ('pending', 'sending')",
    "CREATE INDEX outbox_transition ON outbox(transition_id)",
    # -- bookkeeping -------------------------------------------------------------------------------
    """CREATE TABLE audit_log (
        id         INTEGER PRIMARY KEY,
        rollout_id INTEGER REFERENCES rollouts(id) ON DELETE CASCADE,
        actor      TEXT NOT NULL,
        action     TEXT NOT NULL,
        detail     TEXT,
        reason     TEXT,
        at         INTEGER NOT NULL
    )""",
    "CREATE INDEX audit_log_rollout ON audit_log(rollout_id, at)",
    # Slack retries events; each event_id is handled once (docs/reliability.md: “Requests from Slack”).
    """CREATE TABLE seen_events (
        event_id TEXT PRIMARY KEY,
        seen_at  INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX seen_events_age ON seen_events(seen_at)",
    # users.info answers (time zone, bot, deactivated), cached across restarts.
    """CREATE TABLE slack_users (
        user_id    TEXT PRIMARY KEY,
        tz         TEXT,
        is_bot     INTEGER NOT NULL DEFAULT 0,
        deleted    INTEGER NOT NULL DEFAULT 0,
        fetched_at INTEGER NOT NULL
    ) WITHOUT ROWID""",
)

# When a send to Slack began: a row still 'sending' after a crash is looked up in Slack's history
# (by the key in the message's metadata) before it is sent again, so nothing is posted twice.
_CLAIMS = (
    "ALTER TABLE outbox ADD COLUMN claimed_at INTEGER",
    "ALTER TABLE deliveries ADD COLUMN claimed_at INTEGER",
    "ALTER TABLE digest_runs ADD COLUMN claimed_at INTEGER",
)

# The person's time zone when the survey was queued: the sender re-checks quiet hours with it.
_DELIVERY_TZ = ("ALTER TABLE deliveries ADD COLUMN tz TEXT",)

# A digest may take several messages; each is posted once, in order, counted here.
_DIGEST_PARTS = (
    "ALTER TABLE digest_runs ADD COLUMN parts_posted INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE digest_runs ADD COLUMN chart TEXT",
    # NPS per period per rollout (digests, trends) reads this index alone, never the table.
    "CREATE INDEX responses_rollout_nps ON responses(rollout_id, kind, answered_at, score)",
)

# Answers nobody can tie to a person. Each wave gets its own key, kept only wrapped under the
# master key (which never enters the database) and deleted when the wave closes. Answers and
# comments are dated by the day in PULSE_TIMEZONE (`pulse_day`, registered on each connection),
# and the tables have no rowid: their order on disk is that of the random respondent keys, never
# that of the clicks. The keys of waves from before are dealt with at start-up (bot.key_file).
_WAVE_KEYS = (
    # How many people a wave was sent to: below PULSE_MIN_GROUP, who was asked tells whose the
    # answers are whatever becomes of the key, and the messages must not say otherwise.
    "ALTER TABLE waves ADD COLUMN asked INTEGER NOT NULL DEFAULT 0",
    """UPDATE waves SET asked = (SELECT count(*) FROM deliveries d
       WHERE d.wave_id = waves.id AND d.status IN ('pending', 'sending', 'sent'))""",
    """CREATE TABLE wave_keys (
        wave_id INTEGER PRIMARY KEY REFERENCES waves(id) ON DELETE CASCADE,
        wrapped BLOB NOT NULL
    )""",
    """CREATE TABLE answers_by_day (
        wave_id        INTEGER NOT NULL REFERENCES waves(id) ON DELETE CASCADE,
        respondent_key TEXT NOT NULL,
        rollout_id     INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        stage_id       INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        kind           TEXT NOT NULL CHECK (kind IN ('nps', 'touchpoint')),
        touchpoint_id  INTEGER REFERENCES touchpoints(id) ON DELETE CASCADE,
        score          REAL NOT NULL,
        answered_on    TEXT NOT NULL CHECK (date(answered_on) IS answered_on),
        PRIMARY KEY (wave_id, respondent_key)
    ) WITHOUT ROWID""",
    """INSERT INTO answers_by_day
       SELECT wave_id, respondent_key, rollout_id, stage_id, kind, touchpoint_id, score, pulse_day(answered_at)
       FROM responses""",
    "DROP TABLE responses",
    "ALTER TABLE answers_by_day RENAME TO responses",
    # Each figure reads one of these indexes alone, never the table: a stage's (status card,
    # results), a rollout's over a period (digests), and NPS per period (trends).
    "CREATE INDEX responses_stage ON responses(stage_id, kind, touchpoint_id, score)",
    "CREATE INDEX responses_rollout_day ON responses(rollout_id, answered_on, kind, touchpoint_id, score)",
    "CREATE INDEX responses_rollout_nps ON responses(rollout_id, kind, answered_on, score)",
    """CREATE TABLE comments_by_day (
        wave_id        INTEGER NOT NULL REFERENCES waves(id) ON DELETE CASCADE,
        respondent_key TEXT NOT NULL,
        rollout_id     INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        stage_id       INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        body           TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 3000),
        created_on     TEXT NOT NULL CHECK (date(created_on) IS created_on),
        PRIMARY KEY (wave_id, respondent_key)
    ) WITHOUT ROWID""",
    """INSERT INTO comments_by_day
       SELECT wave_id, respondent_key, rollout_id, stage_id, body, pulse_day(created_at) FROM comments""",
    "DROP TABLE comments",
    "ALTER TABLE comments_by_day RENAME TO comments",
    "CREATE INDEX comments_rollout_day ON comments(rollout_id, created_on)",
    "CREATE INDEX comments_stage_day ON comments(stage_id, created_on)",
)

# The disclosure rule: answers reach figures only in groups. Each survey of a stage (its NPS, or
# one touchpoint) is a pool; its answers wait (`released_on` NULL) until PULSE_MIN_GROUP of them
# have arrived, then go into the figures together, as one released group, on that day. Figures
# are read from `disclosed` (the groups' frozen counts per score) alone, so any two figures
# differ by whole groups; comments are shown only once released with a group, dated by it.
_DISCLOSURE = (
    "ALTER TABLE responses ADD COLUMN released_on TEXT CHECK (released_on IS NULL OR date(released_on) IS released_on)",
    "ALTER TABLE comments ADD COLUMN released_on TEXT CHECK (released_on IS NULL OR date(released_on) IS released_on)",
    """CREATE TABLE disclosed (
        rollout_id    INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        stage_id      INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        kind          TEXT NOT NULL CHECK (kind IN ('nps', 'touchpoint')),
        touchpoint_id INTEGER REFERENCES touchpoints(id) ON DELETE CASCADE,
        released_on   TEXT NOT NULL CHECK (date(released_on) IS released_on),
        score         REAL NOT NULL,
        answers       INTEGER NOT NULL CHECK (answers > 0)
    )""",
    # A stage's figures (status card, results), a rollout's over a period (digests, trends).
    "CREATE INDEX disclosed_stage ON disclosed(stage_id, kind, touchpoint_id, score, answers)",
    "CREATE INDEX disclosed_rollout ON disclosed(rollout_id, released_on, kind, touchpoint_id, score, answers)",
    # The answers still waiting for their group: a handful per pool, counted at every answer.
    "CREATE INDEX responses_waiting ON responses(stage_id, kind, touchpoint_id) WHERE released_on IS NULL",
    "CREATE INDEX comments_waiting ON comments(stage_id) WHERE released_on IS NULL",
    # Figures no longer read the answers themselves: the export is all that reads them by rollout.
    "DROP INDEX responses_stage",
    "DROP INDEX responses_rollout_day",
    "DROP INDEX responses_rollout_nps",
    "DROP INDEX comments_rollout_day",
    "DROP INDEX comments_stage_day",
    "CREATE INDEX responses_rollout ON responses(rollout_id, released_on)",
    "CREATE INDEX comments_released ON comments(rollout_id, released_on)",
)

# The file a digest's chart upload made, kept before the upload is completed: Slack shares a file
# a moment after completing it, so after a crash the file is waited for, not uploaded again.
_CHART_FILE = ("ALTER TABLE digest_runs ADD COLUMN chart_file TEXT",)

# The language each person set in Slack, cached with their time zone: what they are asked in.
_SLACK_LOCALE = ("ALTER TABLE slack_users ADD COLUMN locale TEXT",)

# The language each text goes out in: a person's own choice (none: their Slack locale, else the
# bot's default), the one a survey was sent in (it stays in it), and a channel's posts'.
_LANGUAGES = (
    """CREATE TABLE person_languages (
        user_id  TEXT PRIMARY KEY,
        language TEXT NOT NULL CHECK (length(language) BETWEEN 2 AND 8)
    ) WITHOUT ROWID""",
    "ALTER TABLE deliveries ADD COLUMN language TEXT",
    "ALTER TABLE rollouts ADD COLUMN language TEXT",
    "ALTER TABLE digest_subscriptions ADD COLUMN language TEXT",
)

# Owners' texts in more than one language, from the config file: JSON {language: text}, the
# column beside each holding the text written first (what a reader with no variant sees).
_TEXT_VARIANTS = (
    "ALTER TABLE rollouts ADD COLUMN title_variants TEXT",
    "ALTER TABLE rollouts ADD COLUMN vision_variants TEXT",
    "ALTER TABLE touchpoints ADD COLUMN label_variants TEXT",
)

# Conversations on anonymous comments (docs/closing-the-loop.md). A thread names its comment by
# wave and respondent key, never its writer: `link` is the writer's user ID encrypted under the
# master key, deleted when the thread closes (by the writer, at expiry, or by forget-me).
_THREADS = (
    """CREATE TABLE threads (
        id           INTEGER PRIMARY KEY,
        rollout_id   INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        stage_id     INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        wave_id      INTEGER NOT NULL REFERENCES waves(id) ON DELETE CASCADE,
        comment_key  TEXT NOT NULL,
        link         BLOB,
        replier      TEXT NOT NULL,
        opened_at    INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        awaiting     TEXT NOT NULL DEFAULT 'commenter' CHECK (awaiting IN ('commenter', 'replier')),
        waiting_on   TEXT CHECK (waiting_on IS NULL OR date(waiting_on) IS waiting_on),
        closed_at    INTEGER,
        closed_how   TEXT CHECK (closed_how IN ('commenter', 'expired', 'forgotten')),
        CHECK ((closed_at IS NULL) = (link IS NOT NULL)),
        UNIQUE (wave_id, comment_key)
    )""",
    "CREATE INDEX threads_open ON threads(rollout_id) WHERE closed_at IS NULL",
    # Its writer closed the conversation on it: nobody starts another (the thread no longer names it).
    "ALTER TABLE comments ADD COLUMN replies_closed INTEGER NOT NULL DEFAULT 0",
    """CREATE TABLE thread_messages (
        id         INTEGER PRIMARY KEY,
        thread_id  INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
        author     TEXT,
        kind       TEXT NOT NULL CHECK (kind IN ('reply', 'noted', 'looking', 'fixed', 'answer')),
        body       TEXT CHECK (body IS NULL OR length(body) BETWEEN 1 AND 3000),
        created_on TEXT NOT NULL CHECK (date(created_on) IS created_on)
    )""",
)

# "You said, we did": what an owner changed because of the feedback, told to the people asked.
_ACTIONS = (
    """CREATE TABLE actions (
        id            INTEGER PRIMARY KEY,
        rollout_id    INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        stage_id      INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        touchpoint_id INTEGER REFERENCES touchpoints(id) ON DELETE SET NULL,
        body          TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 500),
        created_by    TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        told          INTEGER NOT NULL DEFAULT 0,
        check_in_at   INTEGER,
        check_in_id   INTEGER REFERENCES touchpoints(id) ON DELETE SET NULL,
        checked_in_at INTEGER
    )""",
    "CREATE INDEX actions_rollout_time ON actions(rollout_id, created_at)",
)

# Guarded stages (docs/rollouts.md: "Guarded stages"): a stage's soak, and since when its gates
# have passed without a break (NULL: they do not pass now).
_SOAK = (
    "ALTER TABLE stages ADD COLUMN soak_days INTEGER NOT NULL DEFAULT 0 CHECK (soak_days BETWEEN 0 AND 365)",
    "ALTER TABLE stages ADD COLUMN passing_since INTEGER",
)

# Guarded stages, continued: who must approve an advance into a stage, the advance waiting for
# them, what a clear regression does, and the state of each rule the watch keeps an eye on.
_GUARDS = (
    """CREATE TABLE stage_approvers (
        stage_id INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        user_id  TEXT NOT NULL,
        added_by TEXT NOT NULL,
        added_at INTEGER NOT NULL,
        PRIMARY KEY (stage_id, user_id)
    )""",
    """CREATE TABLE approval_requests (
        id            INTEGER PRIMARY KEY,
        rollout_id    INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        from_stage_id INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        to_stage_id   INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        requested_by  TEXT NOT NULL,
        reason        TEXT,
        overridden    INTEGER NOT NULL DEFAULT 0,
        status        TEXT NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'approved', 'withdrawn')),
        decided_by    TEXT,
        requested_at  INTEGER NOT NULL,
        decided_at    INTEGER
    )""",
    # One advance waits at a time: asking again finds the one already waiting.
    "CREATE UNIQUE INDEX approval_waiting ON approval_requests(rollout_id) WHERE status = 'waiting'",
    """ALTER TABLE rollouts ADD COLUMN on_regression TEXT NOT NULL DEFAULT 'notify'
        CHECK (on_regression IN ('notify', 'pause'))""",
    # A rule is a gate ("target:<metric>") or the period-over-period NPS drop ("nps-drop").
    # armed: it may raise an alert (a gate: it has passed); raised: it did, and stays quiet until
    # it has recovered. `raised` counts the alerts, so each has its own key in the outbox.
    """CREATE TABLE watch_alarms (
        stage_id INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        rule     TEXT NOT NULL,
        state    TEXT NOT NULL CHECK (state IN ('armed', 'raised')),
        raised   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (stage_id, rule)
    )""",
    # How many comments each released group brought, frozen as `disclosed` is (an alert counts them).
    """CREATE TABLE disclosed_comments (
        rollout_id  INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        stage_id    INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        released_on TEXT NOT NULL,
        comments    INTEGER NOT NULL
    )""",
    "CREATE INDEX disclosed_comments_stage ON disclosed_comments(stage_id, released_on)",
)

# Feedback maps: the digest part each upload's file belongs to (a digest now uploads more than
# its chart), and the heatmap last shared in each owner's DM, which their Home tab shows (an
# image block may show only a file its reader can see).
_MAP_FILES = (
    "ALTER TABLE digest_runs ADD COLUMN file_part INTEGER",
    """CREATE TABLE map_files (
        rollout_id INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL,
        file_id    TEXT NOT NULL,
        made_on    TEXT NOT NULL CHECK (date(made_on) IS made_on),
        PRIMARY KEY (rollout_id, user_id)
    ) WITHOUT ROWID""",
    # A released group whose comment has a conversation waits for the map's themes until that
    # conversation's time is up: forget-me deletes a comment it reaches through its thread, and a
    # theme must not drop by it. Kept when the thread goes (it names nobody: a stage, a day, a time).
    """CREATE TABLE theme_holds (
        stage_id    INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        released_on TEXT NOT NULL CHECK (date(released_on) IS released_on),
        until       INTEGER NOT NULL
    )""",
    "CREATE INDEX theme_holds_stage ON theme_holds(stage_id, released_on)",
)

# Counts kept as answers are released (README: "Performance"), so that a figure costs the same at ten
# million answers as at one: each pool's released counts per day and score (the groups of one day
# added up), and each wave's surveys sent. Kept by triggers in the same transaction as the row they
# count, so they are the rows' counts by construction; `pulse rebuild-counts` recomputes them.
_COUNTS = (
    """CREATE TABLE released_by_day (
        rollout_id    INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
        stage_id      INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
        kind          TEXT NOT NULL CHECK (kind IN ('nps', 'touchpoint')),
        touchpoint_id INTEGER REFERENCES touchpoints(id) ON DELETE CASCADE,
        released_on   TEXT NOT NULL CHECK (date(released_on) IS released_on),
        score         REAL NOT NULL,
        answers       INTEGER NOT NULL CHECK (answers >= 0)
    )""",
    """CREATE UNIQUE INDEX released_by_day_pool
       ON released_by_day(stage_id, kind, ifnull(touchpoint_id, 0), released_on, score)""",
    "CREATE INDEX released_by_day_rollout ON released_by_day(rollout_id, released_on, kind)",
    """INSERT INTO released_by_day (rollout_id, stage_id, kind, touchpoint_id, released_on, score, answers)
       SELECT rollout_id, stage_id, kind, touchpoint_id, released_on, score, sum(answers) FROM disclosed
       GROUP BY stage_id, kind, touchpoint_id, released_on, score""",
    """CREATE TRIGGER disclosed_counted AFTER INSERT ON disclosed BEGIN
        INSERT INTO released_by_day (rollout_id, stage_id, kind, touchpoint_id, released_on, score, answers)
        VALUES (NEW.rollout_id, NEW.stage_id, NEW.kind, NEW.touchpoint_id, NEW.released_on, NEW.score, NEW.answers)
        ON CONFLICT (stage_id, kind, ifnull(touchpoint_id, 0), released_on, score)
        DO UPDATE SET answers = answers + excluded.answers;
    END""",
    """CREATE TRIGGER disclosed_uncounted AFTER DELETE ON disclosed BEGIN
        UPDATE released_by_day SET answers = answers - OLD.answers
        WHERE stage_id = OLD.stage_id AND kind = OLD.kind AND ifnull(touchpoint_id, 0) = ifnull(OLD.touchpoint_id, 0)
          AND released_on = OLD.released_on AND score = OLD.score;
    END""",
    "ALTER TABLE waves ADD COLUMN sent INTEGER NOT NULL DEFAULT 0",
    "UPDATE waves SET sent = (SELECT count(*) FROM deliveries d WHERE d.wave_id = waves.id AND d.status = 'sent')",
    """CREATE TRIGGER delivery_sent_counted AFTER INSERT ON deliveries WHEN NEW.status = 'sent' BEGIN
        UPDATE waves SET sent = sent + 1 WHERE id = NEW.wave_id;
    END""",
    """CREATE TRIGGER delivery_sent_changed AFTER UPDATE OF status ON deliveries
       WHEN (OLD.status = 'sent') != (NEW.status = 'sent') BEGIN
        UPDATE waves SET sent = sent + (CASE WHEN NEW.status = 'sent' THEN 1 ELSE -1 END) WHERE id = NEW.wave_id;
    END""",
    """CREATE TRIGGER delivery_sent_uncounted AFTER DELETE ON deliveries WHEN OLD.status = 'sent' BEGIN
        UPDATE waves SET sent = sent - 1 WHERE id = OLD.wave_id;
    END""",
)

# Indexes that hold every column their reads need, so that a figure is read from the index alone:
# the counts of a stage or a rollout over a span of days, and each wave's surveys sent. None on
# comments: an index of comments holds each comment's key, and a b-tree can keep a copy of a key
# in its pages after the comment is moved to a key of its own at its wave's close (the key that
# tied it to its writer's answer); one more such b-tree is one more place for that copy.
_COVERING = (
    "DROP INDEX released_by_day_rollout",
    """CREATE INDEX released_by_day_rollout
       ON released_by_day(rollout_id, released_on, kind, touchpoint_id, score, answers)""",
    """CREATE INDEX released_by_day_stage
       ON released_by_day(stage_id, released_on, kind, touchpoint_id, score, answers)""",
    "CREATE INDEX waves_rollout_sent ON waves(rollout_id, kind, opened_at, sent)",
    "CREATE INDEX waves_stage_sent ON waves(stage_id, kind, opened_at, sent)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _INITIAL),
    Migration(2, "claim times for exactly-once sends", _CLAIMS),
    Migration(3, "time zone of each delivery", _DELIVERY_TZ),
    Migration(4, "digest parts", _DIGEST_PARTS),
    Migration(5, "wave keys; answers dated by the day", _WAVE_KEYS),
    Migration(6, "answers released to figures in groups", _DISCLOSURE),
    Migration(7, "the file of a digest's chart upload", _CHART_FILE),
    Migration(8, "each person's Slack locale", _SLACK_LOCALE),
    Migration(9, "languages of people, surveys and channel posts", _LANGUAGES),
    Migration(10, "owners' texts in each language", _TEXT_VARIANTS),
    Migration(11, "conversations on anonymous comments", _THREADS),
    Migration(12, "you said, we did", _ACTIONS),
    Migration(13, "a stage's soak", _SOAK),
    Migration(14, "approvals and the regression watch", _GUARDS),
    Migration(15, "feedback map files", _MAP_FILES),
    Migration(16, "counts kept as answers are released", _COUNTS),
    Migration(17, "indexes that cover the figures' reads", _COVERING),
)

_BOOKKEEPING = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
)"""


async def applied_versions(conn: aiosqlite.Connection) -> set[int]:
    async with conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ) as cur:
        if await cur.fetchone() is None:
            return set()
    async with conn.execute("SELECT version FROM schema_migrations") as cur:
        return {int(row[0]) for row in await cur.fetchall()}


async def migrate(conn: aiosqlite.Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[Migration]:
    """Apply every migration not yet recorded; return the ones applied now.

    The connection must be in autocommit mode (isolation_level=None). Each migration runs inside
    BEGIN IMMEDIATE, so two processes starting at once apply it once between them.
    """
    known = max((m.version for m in migrations), default=0)
    done_now: list[Migration] = []
    for migration in sorted(migrations, key=lambda m: m.version):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            await conn.execute(_BOOKKEEPING)
            applied = await applied_versions(conn)
            newest = max(applied, default=0)
            if newest > known:
                raise MigrationError(
                    f"the database is at schema version {newest}, newer than this Rollout Pulse "
                    f"knows ({known}); upgrade Rollout Pulse or restore an older backup"
                )
            if migration.version in applied:
                await conn.execute("ROLLBACK")
                continue
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, int(time.time())),
            )
            await conn.execute("COMMIT")
        except MigrationError:
            await conn.execute("ROLLBACK")
            raise
        except Exception as exc:
            await conn.execute("ROLLBACK")
            raise MigrationError(
                f"migration {migration.version} ({migration.name}) failed and was rolled back: {exc}"
            ) from exc
        done_now.append(migration)
    return done_now
