"""The App Home tab: open surveys answerable in place, my rollouts, an admin overview, the
language picker, privacy. At most 100 blocks, however many rollouts there are. Written in the
language of the person whose Home it is."""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.blocks import format as fmt
from handlers.blocks.rollouts import language_name, status_line
from handlers.blocks.survey import answer_buttons, general_privacy_line
from handlers.blocks.text import Block, context, escape, mrkdwn, plain, section, sections_from_lines
from handlers.ids import Action
from runtime.i18n import LANGUAGES, Texts, texts
from services.home import HomeRollout, HomeView
from services.languages import AUTO
from services.privacy import Reading
from services.scales import question

VIEW_BLOCK_LIMIT = 100
ALT_TEXT_LIMIT = 2000  # an image block's alt_text and title
SURVEYS_SHOWN = 8  # three blocks each
MINE_SHOWN = 25  # one block each
MAPS_SHOWN = 3  # of those, the owners' feedback maps as images (one block each)
# After the overview: a divider, the language picker (two blocks) and the privacy line.
AFTER_OVERVIEW = 4


def _roles(t: Texts, roles: tuple[str, ...]) -> str:
    names = [t._("owner") if role == "owner" else t._("champion") for role in roles]
    if len(names) == 2:
        return t._("{first} and {second}", first=names[0], second=names[1])
    return ", ".join(names)


def _one_line(t: Texts, item: HomeRollout, min_group: int) -> str:
    detail = item.detail
    stage = detail.current
    where = status_line(t, detail)
    if stage is not None and detail.rollout.status in ("active", "paused"):
        where = escape(stage.name) + (" · " + t._("⏸ paused") if detail.rollout.status == "paused" else "")
    nps = ""
    if item.metrics is not None:
        summary = item.metrics.nps
        if summary is None:
            nps = " · NPS " + fmt.not_enough(t, min_group)
        else:
            nps = f" · NPS {fmt.signed(summary.score)} (n={t.number(summary.n)})"
    return f"*{escape(detail.rollout.title_in(t.language))}* · {where}{nps}"


def language_option(code: str) -> str:
    """A language as the picker offers it: in its own words ("English", "Svenska"), so that
    whoever cannot read the Home's language still finds theirs."""
    name = language_name(texts(code), code)
    return name[:1].upper() + name[1:]


def language_picker(t: Texts, reading: Reading) -> list[Block]:
    """The person's language and why, with a button for each language and one for Slack's."""
    language = language_name(t, reading.language)
    if reading.source == "chosen":
        said = t._("*Your language:* {language}, as you chose.", language=language)
    elif reading.source == "slack":
        said = t._("*Your language:* {language}, as set in Slack.", language=language)
    else:
        said = t._("*Your language:* {language}, the bot's default.", language=language)
    chosen = reading.chosen or AUTO
    buttons: list[Block] = []
    for code in (*LANGUAGES, AUTO):
        button: Block = {
            "type": "button",
            "text": plain(t._("As set in Slack") if code == AUTO else language_option(code)),
            # Ids differ within a block: one per language, the code again in the value.
            "action_id": f"{Action.HOME_LANGUAGE.value}_{code}",
            "value": code,
        }
        if code == chosen:
            button["style"] = "primary"
        buttons.append(button)
    return [section(said), {"type": "actions", "elements": buttons}]


def map_image(t: Texts, item: HomeRollout) -> Block:
    """The heatmap last shared in the owner's DM, dated: its figures are of that day."""
    assert item.map_file is not None
    title = item.detail.rollout.title_in(t.language)
    day = t.day(date.fromisoformat(item.map_file.made_on))
    caption = t._("Feedback map: {title}", title=title)
    return {
        "type": "image",
        "slack_file": {"id": item.map_file.file_id},
        "alt_text": caption[:ALT_TEXT_LIMIT],
        "title": plain(t._("{map}, as of {day}", map=caption, day=day)[:ALT_TEXT_LIMIT]),
    }


def build_home(t: Texts, view: HomeView) -> dict[str, Any]:
    blocks: list[Block] = [{"type": "header", "text": plain(t._("Rollout Pulse"))}]  # the app's name: kept as it is
    if view.surveys:
        blocks.append(section(t._("*Your open surveys* ({n}) — answer right here:", n=t.number(len(view.surveys)))))
        for survey in view.surveys[:SURVEYS_SHOWN]:
            about = survey.touchpoint_label or survey.rollout_title
            asked = t.say(question(survey.scale, survey.rollout_title, survey.touchpoint_label))
            blocks.append(section(f"*{escape(asked)}*"))
            blocks.append(answer_buttons(t, survey))
            blocks.append(context(t._("{about} · also in your messages from Rollout Pulse", about=escape(about))))
        if len(view.surveys) > SURVEYS_SHOWN:
            more = len(view.surveys) - SURVEYS_SHOWN
            blocks.append(context(t.n_("…and {n} more in your messages.", "…and {n} more in your messages.", more)))
    else:
        blocks.append(section(t._("*Your open surveys*\nNothing to answer right now. Thank you!")))
    blocks.append({"type": "divider"})
    if view.mine:
        blocks.append(section(t._("*Rollouts you own or champion*")))
        maps = 0
        for item in view.mine[:MINE_SHOWN]:
            line = f"{_one_line(t, item, view.min_group)}\n_{_roles(t, item.roles)}_"
            if waiting := fmt.waiting(t, item.waiting, yours=True):
                line += f"\n{waiting}"
            if "owner" in item.roles:
                slug = item.detail.rollout.slug
                line += "\n" + t._("`/pulse map {slug}` shares its feedback map in your DM.", slug=slug)
            blocks.append(
                {
                    "type": "section",
                    "text": mrkdwn(line[:3000]),
                    "accessory": {
                        "type": "button",
                        "text": plain(t._("Status")),
                        "action_id": Action.HOME_STATUS.value,
                        "value": item.detail.rollout.slug,
                    },
                }
            )
            if item.map_file is not None and maps < MAPS_SHOWN:
                blocks.append(map_image(t, item))
                maps += 1
        if len(view.mine) > MINE_SHOWN:
            more = len(view.mine) - MINE_SHOWN
            blocks.append(
                context(
                    t.n_(
                        "…and {n} more: `/rollout list` shows them all.",
                        "…and {n} more: `/rollout list` shows them all.",
                        more,
                    )
                )
            )
        blocks.append({"type": "divider"})
    if view.overview is not None:
        lines = [t._("*All open rollouts* (you are an admin)")]
        lines += [_one_line(t, item, view.min_group) for item in view.overview] or [t._("None yet.")]
        overview = sections_from_lines(lines)
        room = VIEW_BLOCK_LIMIT - len(blocks) - AFTER_OVERVIEW
        if len(overview) > room:
            overview = [*overview[: room - 1], context(t._("…more with `/rollout list`."))]
        blocks += overview
        blocks.append({"type": "divider"})
    blocks += language_picker(t, view.reading)
    mydata = t._("`/pulse mydata` shows what is stored about you.")
    blocks.append(context(f"{general_privacy_line(t, view.min_group)} {mydata}"))
    return {"type": "home", "blocks": blocks[:VIEW_BLOCK_LIMIT]}
