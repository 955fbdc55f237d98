"""Slack's Block Kit limits, checked the way Slack checks them.

Each problem is reported as Slack words it: `[ERROR] <what> [json-pointer:<where>]`. Messages
with problems are refused with `invalid_blocks`, views with `invalid_arguments`.

What passes these checks is also built with slack_sdk's own model classes
(slack_sdk.models.blocks, slack_sdk.models.views), whose validators hold the limits written
into the SDK from Slack's reference: confirm objects (title 100, text 300, buttons 30, style),
accessibility labels (75), and the rest. Whatever they reject is refused too.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MESSAGE_TEXT = 40_000
SECTION_TEXT = 3000
SECTION_FIELDS = 10
FIELD_TEXT = 2000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
OVERFLOW_OPTIONS = 5  # an overflow menu's options: "up to five" (Block Kit's overflow menu element)
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ID_LENGTH = 255
URL_LENGTH = 3000
ALT_TEXT = 2000
LABEL_TEXT = 2000
MODAL_TITLE = 24
MODAL_BUTTON = 24
PRIVATE_METADATA = 3000
INPUT_MAX_LENGTH = 3000
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTIONS = 100

MESSAGE_BLOCK_TYPES = {
    "section",
    "divider",
    "header",
    "context",
    "actions",
    "image",
    "input",
    "rich_text",
    "file",
    "video",
    "markdown",
}
VIEW_BLOCK_TYPES = MESSAGE_BLOCK_TYPES - {"file"}
INTERACTIVE_ELEMENTS = {
    "button",
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_users_select",
    "overflow",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "checkboxes",
    "radio_buttons",
    "plain_text_input",
    "number_input",
    "email_text_input",
    "url_text_input",
    "rich_text_input",
    "multi_conversations_select",
    "multi_channels_select",
    "multi_external_select",
}
INPUT_ELEMENTS = INTERACTIVE_ELEMENTS - {"button", "overflow"}


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, what: str, where: str) -> None:
        self.errors.append(f"[ERROR] {what} [json-pointer:{where}]")

    # -- pieces -------------------------------------------------------------------------------------

    def string(self, value: Any, where: str, *, limit: int, required: bool = True) -> None:
        if value is None:
            if required:
                self.fail("missing required field", where)
            return
        if not isinstance(value, str):
            self.fail("must be a string", where)
        elif required and not value:
            self.fail("must be more than 0 characters", where)
        elif len(value) > limit:
            self.fail(f"must be less than {limit + 1} characters", where)

    def text_object(self, obj: Any, where: str, *, limit: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.fail("must be an object", where)
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if kind not in allowed:
            self.fail(f"must be {' or '.join(allowed)}", f"{where}/type")
        self.string(obj.get("text"), f"{where}/text", limit=limit)

    def block_id(self, block: dict[str, Any], where: str, seen: set[str]) -> None:
        block_id = block.get("block_id")
        if block_id is None:
            return
        self.string(block_id, f"{where}/block_id", limit=ID_LENGTH)
        if isinstance(block_id, str):
            if block_id in seen:
                self.fail("duplicate block_id", f"{where}/block_id")
            seen.add(block_id)

    def option(self, option: Any, where: str) -> None:
        if not isinstance(option, dict):
            self.fail("must be an object", where)
            return
        self.text_object(option.get("text"), f"{where}/text", limit=OPTION_TEXT)
        self.string(option.get("value"), f"{where}/value", limit=OPTION_VALUE)

    def element(self, element: Any, where: str, *, allowed: set[str]) -> None:
        if not isinstance(element, dict):
            self.fail("must be an object", where)
            return
        kind = element.get("type")
        if kind == "image":
            self.image_fields(element, where)
            return
        if kind not in allowed:
            self.fail(f"unsupported type: {kind!r}", f"{where}/type")
            return
        self.string(element.get("action_id"), f"{where}/action_id", limit=ID_LENGTH, required=False)
        if kind == "button":
            self.text_object(element.get("text"), f"{where}/text", limit=BUTTON_TEXT, plain_only=True)
            self.string(element.get("value"), f"{where}/value", limit=BUTTON_VALUE, required=False)
            self.string(element.get("url"), f"{where}/url", limit=URL_LENGTH, required=False)
            if element.get("style") not in (None, "primary", "danger"):
                self.fail("must be primary or danger", f"{where}/style")
        elif kind in ("plain_text_input", "rich_text_input"):
            for key in ("max_length", "min_length"):
                value = element.get(key)
                if value is not None and (not isinstance(value, int) or not 0 <= value <= INPUT_MAX_LENGTH):
                    self.fail(f"must be between 0 and {INPUT_MAX_LENGTH}", f"{where}/{key}")
            initial = element.get("initial_value")
            if initial is not None:
                self.string(initial, f"{where}/initial_value", limit=INPUT_MAX_LENGTH, required=False)
        options = element.get("options")
        if options is not None:
            if not isinstance(options, list) or not options:
                self.fail("must be a non-empty array", f"{where}/options")
            else:
                most = OVERFLOW_OPTIONS if kind == "overflow" else OPTIONS
                if len(options) > most:
                    self.fail(f"no more than {most} items allowed", f"{where}/options")
                for i, option in enumerate(options):
                    self.option(option, f"{where}/options/{i}")
        if "placeholder" in element:
            self.text_object(element["placeholder"], f"{where}/placeholder", limit=150, plain_only=True)

    def image_fields(self, obj: dict[str, Any], where: str) -> None:
        if "slack_file" not in obj:
            self.string(obj.get("image_url"), f"{where}/image_url", limit=URL_LENGTH)
        else:
            # Slack: a file's id or its url, never both (and then no image_url).
            slack_file = obj["slack_file"]
            given = [k for k in ("id", "url") if isinstance(slack_file, dict) and isinstance(slack_file.get(k), str)]
            if len(given) != 1 or "image_url" in obj:
                self.fail("invalid slack file", f"{where}/slack_file")
        self.string(obj.get("alt_text"), f"{where}/alt_text", limit=ALT_TEXT)

    # -- blocks -------------------------------------------------------------------------------------

    def block(self, block: Any, where: str, seen: set[str], types: set[str]) -> None:
        if not isinstance(block, dict):
            self.fail("must be an object", where)
            return
        kind = block.get("type")
        if kind not in types:
            self.fail(f"unsupported type: {kind!r}", f"{where}/type")
            return
        self.block_id(block, where, seen)
        if kind == "section":
            self.section(block, where)
        elif kind == "header":
            self.text_object(block.get("text"), f"{where}/text", limit=HEADER_TEXT, plain_only=True)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.fail("must be a non-empty array", f"{where}/elements")
                return
            if len(elements) > CONTEXT_ELEMENTS:
                self.fail(f"no more than {CONTEXT_ELEMENTS} items allowed", f"{where}/elements")
            for i, element in enumerate(elements):
                at = f"{where}/elements/{i}"
                if isinstance(element, dict) and element.get("type") == "image":
                    self.image_fields(element, at)
                else:
                    self.text_object(element, at, limit=SECTION_TEXT)
        elif kind == "actions":
            self.actions(block, where)
        elif kind == "image":
            self.image_fields(block, where)
            if "title" in block:
                self.text_object(block["title"], f"{where}/title", limit=ALT_TEXT, plain_only=True)
        elif kind == "input":
            self.text_object(block.get("label"), f"{where}/label", limit=LABEL_TEXT, plain_only=True)
            if "hint" in block:
                self.text_object(block["hint"], f"{where}/hint", limit=LABEL_TEXT, plain_only=True)
            self.element(block.get("element"), f"{where}/element", allowed=INPUT_ELEMENTS)

    def section(self, block: dict[str, Any], where: str) -> None:
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:
            self.fail("must provide either text or fields", where)
        if text is not None:
            self.text_object(text, f"{where}/text", limit=SECTION_TEXT)
        if fields is not None:
            if not isinstance(fields, list) or not fields:
                self.fail("must be a non-empty array", f"{where}/fields")
            else:
                if len(fields) > SECTION_FIELDS:
                    self.fail(f"no more than {SECTION_FIELDS} items allowed", f"{where}/fields")
                for i, field in enumerate(fields):
                    self.text_object(field, f"{where}/fields/{i}", limit=FIELD_TEXT)
        if "accessory" in block:
            self.element(block["accessory"], f"{where}/accessory", allowed=INTERACTIVE_ELEMENTS)

    def actions(self, block: dict[str, Any], where: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.fail("must be a non-empty array", f"{where}/elements")
            return
        if len(elements) > ACTIONS_ELEMENTS:
            self.fail(f"no more than {ACTIONS_ELEMENTS} items allowed", f"{where}/elements")
        action_ids: set[str] = set()
        for i, element in enumerate(elements):
            self.element(element, f"{where}/elements/{i}", allowed=INTERACTIVE_ELEMENTS - {"plain_text_input"})
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if isinstance(action_id, str):
                if action_id in action_ids:
                    self.fail("duplicate action_id", f"{where}/elements/{i}/action_id")
                action_ids.add(action_id)

    def blocks(self, blocks: Any, where: str, *, limit: int, types: set[str]) -> None:
        if not isinstance(blocks, list):
            self.fail("must be an array", where)
            return
        if len(blocks) > limit:
            self.fail(f"no more than {limit} items allowed", where)
        seen: set[str] = set()
        for i, block in enumerate(blocks):
            self.block(block, f"{where}/{i}", seen, types)


# slack_sdk logs a warning for every block type it has no class for; the checks above judge those.
logging.getLogger("slack_sdk.models").setLevel(logging.ERROR)


def _sdk_problem(build: Any, where: str) -> list[str]:
    """What slack_sdk's models say of a piece of Block Kit, as Slack words a problem."""
    try:
        build()
    except SlackObjectFormationError as exc:
        return [f"[ERROR] {exc} [json-pointer:{where}]"]
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return [f"[ERROR] slack_sdk cannot read it: {exc} [json-pointer:{where}]"]
    return []


def sdk_block_problems(blocks: list[Any], where: str) -> list[str]:
    """Each block built (and so validated, to its innermost element) by slack_sdk."""
    problems: list[str] = []
    for i, block in enumerate(blocks):
        parsed = Block.parse(block)
        if parsed is not None:
            problems += _sdk_problem(parsed.to_dict, f"{where}/{i}")
    return problems


def check_message(text: Any, blocks: Any) -> list[str]:
    """Problems with a message's blocks (empty when Slack would accept them)."""
    checker = _Checker()
    if blocks is not None:
        checker.blocks(blocks, "/blocks", limit=MESSAGE_BLOCKS, types=MESSAGE_BLOCK_TYPES)
        if not checker.errors:
            checker.errors += sdk_block_problems(blocks, "/blocks")
    return checker.errors


def check_view(view: Any) -> list[str]:
    """Problems with a modal or Home tab view."""
    checker = _Checker()
    if not isinstance(view, dict):
        checker.fail("must be an object", "/view")
        return checker.errors
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.fail("must be modal or home", "/view/type")
        return checker.errors
    blocks = view.get("blocks")
    checker.blocks(blocks, "/view/blocks", limit=VIEW_BLOCKS, types=VIEW_BLOCK_TYPES)
    if kind == "modal":
        checker.text_object(view.get("title"), "/view/title", limit=MODAL_TITLE, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                checker.text_object(view[key], f"/view/{key}", limit=MODAL_BUTTON, plain_only=True)
        has_input = isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and "submit" not in view:
            checker.fail("submit is required when the view has input blocks", "/view/submit")
    for key, limit in (("callback_id", ID_LENGTH), ("external_id", ID_LENGTH)):
        checker.string(view.get(key), f"/view/{key}", limit=limit, required=False)
    checker.string(view.get("private_metadata"), "/view/private_metadata", limit=PRIVATE_METADATA, required=False)
    if not checker.errors:
        checker.errors += _sdk_problem(lambda: View(**view).to_dict(), "/view")
    return checker.errors
