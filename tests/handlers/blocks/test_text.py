"""The pieces every surface is built of: what people typed shows as typed, and a section stays
within Slack's 3000 characters however long it is."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handlers.blocks.text import SECTION_TEXT_LIMIT, Message, context, escape, section, sections_from_lines
from sandbox.blockkit import SECTION_TEXT, check_message
from services import inputs
from services.errors import BadInput
from services.surveys import COMMENT_MAX, LABEL_MAX
from tests.handlers.blocks.extremes import COMMENT, ID_MAX, LABEL, REASON, SLUG, STAGE_NAMES, TITLE, VISION, name


def test_the_texts_of_these_tests_are_the_longest_the_input_checks_accept() -> None:
    assert inputs.title(TITLE) == TITLE
    assert inputs.vision(VISION) == VISION
    assert inputs.reason(REASON, required=True) == REASON
    assert inputs.slug(SLUG) == SLUG
    assert inputs.stage_names(",".join(STAGE_NAMES)) == list(STAGE_NAMES)
    assert inputs.free_text(LABEL) == LABEL and len(LABEL) == LABEL_MAX
    assert inputs.multiline_text(COMMENT) == COMMENT and len(COMMENT) == COMMENT_MAX
    assert len(STAGE_NAMES[0]) == ID_MAX


@pytest.mark.parametrize(
    "longer",
    [
        lambda: inputs.title(TITLE + "&"),
        lambda: inputs.vision(VISION + "&"),
        lambda: inputs.reason(REASON + "&", required=True),
        lambda: inputs.slug(SLUG + "x"),
        lambda: inputs.stage_names(STAGE_NAMES[0] + "x"),
        lambda: inputs.stage_names(",".join([*STAGE_NAMES, name("stage", 99)])),
    ],
    ids=["title", "vision", "reason", "slug", "stage name", "stages"],
)
def test_one_more_is_refused(longer: Callable[[], object]) -> None:
    with pytest.raises(BadInput):
        longer()


def test_escaping_shows_slacks_control_characters_as_typed() -> None:
    assert escape("<!here> R&D <@U0123456789> <https://x.example|x>") == (
        "&lt;!here&gt; R&amp;D &lt;@U0123456789&gt; &lt;https://x.example|x&gt;"
    )
    assert len(escape(TITLE)) > 4 * len(TITLE)  # why every builder must cut what it shows back


def test_a_section_over_slacks_limit_is_cut_and_says_so() -> None:
    text = escape(VISION)
    block = section(text)
    assert check_message("vision", [block]) == []
    assert block["text"]["text"] == text[: SECTION_TEXT - 1] + "…"
    assert section("v" * SECTION_TEXT)["text"]["text"] == "v" * SECTION_TEXT  # at the limit: kept whole
    assert SECTION_TEXT_LIMIT == SECTION_TEXT


def test_lines_are_packed_into_as_few_sections_as_fit_and_none_is_lost() -> None:
    lines = [escape(REASON)] * 30 + [f"• line {i}" for i in range(600)] + ["w" * SECTION_TEXT]
    blocks = sections_from_lines(lines)
    assert check_message("lines", blocks) == []
    assert "\n".join(b["text"]["text"] for b in blocks) == "\n".join(lines)
    # Three lines of 999 characters and their two line breaks make 2999: three to a section.
    assert len(sections_from_lines(["n" * 999] * 9)) == 3


def test_a_line_longer_than_a_section_is_cut_to_fit() -> None:
    blocks = sections_from_lines(["short", escape(COMMENT), "after"])
    assert check_message("comment", blocks) == []
    assert [b["text"]["text"][:5] for b in blocks] == ["short", "It br", "after"]


def test_mrkdwn_is_verbatim_so_typed_addresses_do_not_become_links() -> None:
    assert section("see example.com")["text"]["verbatim"] is True
    assert context("see example.com")["elements"][0]["verbatim"] is True


def test_an_ephemeral_reply_carries_its_fallback_text_and_blocks() -> None:
    assert Message("Done.").ephemeral() == {"response_type": "ephemeral", "text": "Done."}
    body = Message("Done.", [section("Done.")]).ephemeral()
    assert body["blocks"] == [section("Done.")] and body["text"] == "Done."
