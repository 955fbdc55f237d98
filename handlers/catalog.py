"""Every subcommand with its usage line: the single source for help and errors."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.i18n import N_, Phrase


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    who: Phrase
    summary: Phrase


@dataclass(frozen=True)
class Catalog:
    command: str
    intro: Phrase
    subcommands: tuple[Subcommand, ...]

    def get(self, name: str) -> Subcommand | None:
        return next((s for s in self.subcommands if s.name == name), None)

    def usage(self, name: str) -> str:
        sub = self.get(name)
        return sub.usage if sub else f"{self.command} help"


ROLLOUT = Catalog(
    command="/rollout",
    intro=N_("Roll a change out in stages and keep its champions informed."),
    subcommands=(
        Subcommand("list", "/rollout list", N_("anyone"), N_("active and planned rollouts with their stage and NPS")),
        Subcommand(
            "status",
            "/rollout status [slug]",
            N_("anyone"),
            N_("the status card: stage, cohort, NPS, gates, champions"),
        ),
        Subcommand(
            "new",
            '/rollout new <slug> "<title>" [stages a,b,c]',
            N_("anyone (you become its owner)"),
            N_("create a rollout; stages default to alpha,beta,ga"),
        ),
        Subcommand(
            "stages",
            "/rollout stages <slug> <a,b,c>",
            N_("owners"),
            N_("rename or reorder the stages (only before the rollout starts)"),
        ),
        Subcommand("vision", '/rollout vision <slug> "<text>"', N_("owners"), N_("set the vision statement")),
        Subcommand("plan", "/rollout plan <slug> <stage> <YYYY-MM-DD>", N_("owners"), N_("planned start of a stage")),
        Subcommand(
            "soak",
            "/rollout soak <slug> <stage> <days>",
            N_("owners"),
            N_("advance by itself once every gate has held that many days (0: off)"),
        ),
        Subcommand(
            "approvers",
            "/rollout approvers <slug> <stage> <@people…|remove>",
            N_("owners"),
            N_("moving into the stage waits for one of them to approve"),
        ),
        Subcommand(
            "on-regression",
            "/rollout on-regression <slug> notify|pause",
            N_("owners"),
            N_("what a clear regression does (default: notify)"),
        ),
        Subcommand(
            "cohort",
            "/rollout cohort <slug> <stage> [remove] <@user|@group|#channel …>",
            N_("owners"),
            N_("add people, user groups or channels to a stage's cohort (or remove them)"),
        ),
        Subcommand("champions", "/rollout champions <slug> add|remove <@user …>", N_("owners"), N_("who carries it")),
        Subcommand("owners", "/rollout owners <slug> add|remove <@user …>", N_("owners"), N_("who may change it")),
        Subcommand("channel", "/rollout channel <slug> <#channel>", N_("owners"), N_("the announcement channel")),
        Subcommand(
            "language",
            "/rollout language <slug> en|sv",
            N_("owners"),
            N_("the language of its announcements in the channel (champions read their own)"),
        ),
        Subcommand(
            "target",
            "/rollout target <slug> <metric> <op> <value> [stage] | /rollout target <slug> remove <metric> [stage]",
            N_("owners"),
            N_("add, replace or remove a success metric (gate), e.g. nps >= 30"),
        ),
        Subcommand("start", "/rollout start <slug>", N_("owners"), N_("enter the first stage and announce it")),
        Subcommand(
            "advance",
            '/rollout advance <slug> ["reason"]',
            N_("owners"),
            N_("check the gates and enter the next stage (the last advance completes it)"),
        ),
        Subcommand("rollback", '/rollout rollback <slug> "reason"', N_("owners"), N_("go back one stage")),
        Subcommand("pause", '/rollout pause <slug> "reason"', N_("owners"), N_("pause: no surveys go out")),
        Subcommand("resume", "/rollout resume <slug>", N_("owners"), N_("resume a paused rollout")),
        Subcommand("roadmap", "/rollout roadmap <slug>", N_("anyone"), N_("planned and actual dates of every stage")),
        Subcommand("history", "/rollout history <slug>", N_("anyone"), N_("who changed what, when and why")),
    ),
)

PULSE = Catalog(
    command="/pulse",
    intro=N_("Measure a rollout with NPS and touchpoint micro-surveys answered in Slack."),
    subcommands=(
        Subcommand("send", "/pulse send <slug> nps", N_("owners"), N_("open an NPS wave for the current stage now")),
        Subcommand(
            "touchpoint",
            '/pulse touchpoint <slug> <key> "<label>" <csat|ces|thumbs|minutes>',
            N_("owners"),
            N_("define or change a touchpoint"),
        ),
        Subcommand(
            "trigger",
            "/pulse trigger <slug> <key> on-join <#channel>",
            N_("owners"),
            N_("survey people about a touchpoint when they join a channel"),
        ),
        Subcommand(
            "ask",
            "/pulse ask <slug> <key> <@user|@group|#channel …>",
            N_("owners, champions"),
            N_("send a touchpoint survey to these people now"),
        ),
        Subcommand(
            "action",
            '/pulse action <slug> "<what changed>" [touchpoint] [--check-in]',
            N_("owners"),
            N_("tell everyone asked in the current stage what changed because of their feedback"),
        ),
        Subcommand(
            "close",
            "/pulse close <slug> [nps|<touchpoint>]",
            N_("owners"),
            N_("close the current stage's open survey now: no more answers, and they are no longer tied to anyone"),
        ),
        Subcommand(
            "results",
            "/pulse results <slug> [stage]",
            N_("owners, champions, admins"),
            N_("the metrics card (only groups large enough to stay anonymous)"),
        ),
        Subcommand(
            "map",
            "/pulse map <slug>",
            N_("owners, champions, admins"),
            N_("every touchpoint at every stage, with the themes of the comments"),
        ),
        Subcommand(
            "digest",
            '/pulse digest | /pulse digest subscribe <#channel> ["<cron>"] [en|sv] '
            "| /pulse digest unsubscribe <#channel>",
            N_("admins"),
            N_("preview the digest, or (un)subscribe a channel to it"),
        ),
        Subcommand("export", "/pulse export <slug>", N_("owners, admins"), N_("a CSV of the answers (no names) by DM")),
        Subcommand(
            "language",
            "/pulse language en|sv|auto",
            N_("anyone"),
            N_("the language Rollout Pulse writes to you in (auto: the one set in Slack)"),
        ),
        Subcommand("mydata", "/pulse mydata", N_("anyone"), N_("what Rollout Pulse stores about you")),
        Subcommand("forget-me", "/pulse forget-me", N_("anyone"), N_("delete everything stored that names you")),
    ),
)
