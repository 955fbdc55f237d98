"""Every subcommand with its usage line: the single source for help and errors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    who: str
    summary: str


@dataclass(frozen=True)
class Catalog:
    command: str
    intro: str
    subcommands: tuple[Subcommand, ...]

    def get(self, name: str) -> Subcommand | None:
        return next((s for s in self.subcommands if s.name == name), None)

    def usage(self, name: str) -> str:
        sub = self.get(name)
        return sub.usage if sub else f"{self.command} help"


ROLLOUT = Catalog(
    command="/rollout",
    intro="Roll a change out in stages and keep its champions informed.",
    subcommands=(
        Subcommand("list", "/rollout list", "anyone", "active and planned rollouts with their stage and NPS"),
        Subcommand(
            "status",
            "/rollout status [slug]",
            "anyone",
            "the status card: stage, cohort, NPS, gates, champions",
        ),
        Subcommand(
            "new",
            '/rollout new <slug> "<title>" [stages a,b,c]',
            "anyone (you become its owner)",
            "create a rollout; stages default to alpha,beta,ga",
        ),
        Subcommand(
            "stages",
            "/rollout stages <slug> <a,b,c>",
            "owners",
            "rename or reorder the stages (only before the rollout starts)",
        ),
        Subcommand("vision", '/rollout vision <slug> "<text>"', "owners", "set the vision statement"),
        Subcommand("plan", "/rollout plan <slug> <stage> <YYYY-MM-DD>", "owners", "planned start of a stage"),
        Subcommand(
            "cohort",
            "/rollout cohort <slug> <stage> [remove] <@user|@group|#channel …>",
            "owners",
            "add people, user groups or channels to a stage's cohort (or remove them)",
        ),
        Subcommand("champions", "/rollout champions <slug> add|remove <@user …>", "owners", "who carries it"),
        Subcommand("owners", "/rollout owners <slug> add|remove <@user …>", "owners", "who may change it"),
        Subcommand("channel", "/rollout channel <slug> <#channel>", "owners", "the announcement channel"),
        Subcommand(
            "target",
            "/rollout target <slug> <metric> <op> <value> [stage] | /rollout target <slug> remove <metric> [stage]",
            "owners",
            "add, replace or remove a success metric (gate), e.g. nps >= 30",
        ),
        Subcommand("start", "/rollout start <slug>", "owners", "enter the first stage and announce it"),
        Subcommand(
            "advance",
            '/rollout advance <slug> ["reason"]',
            "owners",
            "check the gates and enter the next stage (the last advance completes it)",
        ),
        Subcommand("rollback", '/rollout rollback <slug> "reason"', "owners", "go back one stage"),
        Subcommand("pause", '/rollout pause <slug> "reason"', "owners", "pause: no surveys go out"),
        Subcommand("resume", "/rollout resume <slug>", "owners", "resume a paused rollout"),
        Subcommand("roadmap", "/rollout roadmap <slug>", "anyone", "planned and actual dates of every stage"),
        Subcommand("history", "/rollout history <slug>", "anyone", "who changed what, when and why"),
    ),
)

PULSE = Catalog(
    command="/pulse",
    intro="Measure a rollout with NPS and touchpoint micro-surveys answered in Slack.",
    subcommands=(
        Subcommand("send", "/pulse send <slug> nps", "owners", "open an NPS wave for the current stage now"),
        Subcommand(
            "touchpoint",
            '/pulse touchpoint <slug> <key> "<label>" <csat|ces|thumbs|minutes>',
            "owners",
            "define or change a touchpoint",
        ),
        Subcommand(
            "trigger",
            "/pulse trigger <slug> <key> on-join <#channel>",
            "owners",
            "survey people about a touchpoint when they join a channel",
        ),
        Subcommand(
            "ask",
            "/pulse ask <slug> <key> <@user|@group|#channel …>",
            "owners, champions",
            "send a touchpoint survey to these people now",
        ),
        Subcommand(
            "close",
            "/pulse close <slug> [nps|<touchpoint>]",
            "owners",
            "close the current stage's open survey now: no more answers, and they are no longer tied to anyone",
        ),
        Subcommand(
            "results",
            "/pulse results <slug> [stage]",
            "owners, champions, admins",
            "the metrics card (only groups large enough to stay anonymous)",
        ),
        Subcommand(
            "digest",
            '/pulse digest | /pulse digest subscribe <#channel> ["<cron>"] | /pulse digest unsubscribe <#channel>',
            "admins",
            "preview the digest, or (un)subscribe a channel to it",
        ),
        Subcommand("export", "/pulse export <slug>", "owners, admins", "a CSV of the answers (no names) by DM"),
        Subcommand("mydata", "/pulse mydata", "anyone", "what Rollout Pulse stores about you"),
        Subcommand("forget-me", "/pulse forget-me", "anyone", "delete everything stored that names you"),
    ),
)
