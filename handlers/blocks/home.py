"""The App Home tab: open surveys answerable in place, my rollouts, an admin overview, privacy.
At most 100 blocks, however many rollouts there are."""

from __future__ import annotations

from typing import Any

from handlers.blocks import format as fmt
from handlers.blocks.rollouts import status_line
from handlers.blocks.survey import answer_buttons, general_privacy_line
from handlers.blocks.text import Block, context, escape, mrkdwn, plain, section, sections_from_lines
from handlers.ids import Action
from services.home import HomeRollout, HomeView
from services.scales import question

VIEW_BLOCK_LIMIT = 100
SURVEYS_SHOWN = 8  # three blocks each
MINE_SHOWN = 25  # one block each


def _one_line(item: HomeRollout, min_group: int) -> str:
    detail = item.detail
    stage = detail.current
    where = status_line(detail)
    if stage is not None and detail.rollout.status in ("active", "paused"):
        where = escape(stage.name) + (" · ⏸ paused" if detail.rollout.status == "paused" else "")
    nps = ""
    if item.metrics is not None:
        nps = " · NPS " + fmt.nps(item.metrics.nps, item.metrics.respondents, min_group).split(" (n=")[0]
        if item.metrics.nps is not None:
            nps += f" (n={item.metrics.nps.n})"
    return f"*{escape(detail.rollout.title)}* · {where}{nps}"


def build_home(view: HomeView) -> dict[str, Any]:
    blocks: list[Block] = [{"type": "header", "text": plain("Rollout Pulse")}]
    if view.surveys:
        blocks.append(section(f"*Your open surveys* ({len(view.surveys)}) — answer right here:"))
        for survey in view.surveys[:SURVEYS_SHOWN]:
            about = survey.touchpoint_label or survey.rollout_title
            blocks.append(section(f"*{escape(question(survey.scale, survey.rollout_title, survey.touchpoint_label))}*"))
            blocks.append(answer_buttons(survey))
            blocks.append(context(f"{escape(about)} · also in your messages from Rollout Pulse"))
        if len(view.surveys) > SURVEYS_SHOWN:
            blocks.append(context(f"…and {len(view.surveys) - SURVEYS_SHOWN} more in your messages."))
    else:
        blocks.append(section("*Your open surveys*\nNothing to answer right now. Thank you!"))
    blocks.append({"type": "divider"})
    if view.mine:
        blocks.append(section("*Rollouts you own or champion*"))
        for item in view.mine[:MINE_SHOWN]:
            line = f"{_one_line(item, view.min_group)}\n_{' and '.join(item.roles)}_"
            blocks.append(
                {
                    "type": "section",
                    "text": mrkdwn(line[:3000]),
                    "accessory": {
                        "type": "button",
                        "text": plain("Status"),
                        "action_id": Action.HOME_STATUS.value,
                        "value": item.detail.rollout.slug,
                    },
                }
            )
        if len(view.mine) > MINE_SHOWN:
            blocks.append(context(f"…and {len(view.mine) - MINE_SHOWN} more: `/rollout list` shows them all."))
        blocks.append({"type": "divider"})
    if view.overview is not None:
        lines = ["*All open rollouts* (you are an admin)"]
        lines += [_one_line(item, view.min_group) for item in view.overview] or ["None yet."]
        overview = sections_from_lines(lines)
        room = VIEW_BLOCK_LIMIT - len(blocks) - 3
        if len(overview) > room:
            overview = [*overview[: room - 1], context("…more with `/rollout list`.")]
        blocks += overview
        blocks.append({"type": "divider"})
    blocks.append(context(f"{general_privacy_line(view.min_group)} `/pulse mydata` shows what is stored about you."))
    return {"type": "home", "blocks": blocks[:VIEW_BLOCK_LIMIT]}
