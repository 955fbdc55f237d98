"""How soon a failed Slack call goes again: what Slack asked for after a 429, otherwise a
backoff from half a second (as slack-sdk's own retry handler), doubling up to five minutes."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from outbound.sender import MAX_BACKOFF_SECONDS, Retry, classify_error

JITTER = 1.2


def refused(status: int, error: str, headers: dict[str, str] | None = None) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None,
        http_verb="POST",
        api_url="http://127.0.0.1/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError(error, response)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(("attempts", "low"), [(0, 0.5), (1, 0.5), (2, 0.5), (3, 1.0), (4, 2.0), (5, 4.0)])
def test_a_server_error_goes_again_soon_then_ever_later(attempts: int, low: float) -> None:
    outcome = classify_error(refused(503, "service_unavailable"))
    assert isinstance(outcome, Retry) and outcome.maybe_sent
    assert low <= outcome.wait(attempts) <= low * JITTER


def test_the_backoff_stops_growing_at_five_minutes() -> None:
    outcome = classify_error(refused(500, "internal_error"))
    assert isinstance(outcome, Retry)
    assert MAX_BACKOFF_SECONDS <= outcome.wait(40) <= MAX_BACKOFF_SECONDS * JITTER


def test_a_rate_limit_waits_what_slack_asked_for_however_often_it_came() -> None:
    outcome = classify_error(refused(429, "ratelimited", {"Retry-After": "3"}))
    assert isinstance(outcome, Retry) and not outcome.maybe_sent
    assert outcome.wait(0) == outcome.wait(9) == 3.0
    without_header = classify_error(refused(429, "ratelimited"))
    assert isinstance(without_header, Retry) and without_header.wait(0) == 1.0


def test_a_server_error_with_retry_after_waits_at_least_that() -> None:
    outcome = classify_error(refused(503, "service_unavailable", {"Retry-After": "7"}))
    assert isinstance(outcome, Retry) and outcome.wait(0) == 7.0


def test_a_refusal_that_will_not_change_is_not_retried() -> None:
    assert not isinstance(classify_error(refused(200, "channel_not_found")), Retry)


def test_a_200_rate_limited_is_a_rate_limit_not_a_failure() -> None:
    # chat.postMessage and chat.update list `rate_limited` (HTTP 200) among their errors.
    outcome = classify_error(refused(200, "rate_limited"))
    assert isinstance(outcome, Retry) and outcome.rate_limited and not outcome.maybe_sent
    assert outcome.wait(7) == 1.0  # no Retry-After: Slack's pace for posts, a second
    told = classify_error(refused(200, "rate_limited", {"Retry-After": "3"}))
    assert isinstance(told, Retry) and told.wait(0) == 3.0


# What Slack's docs list as passing errors, written out here rather than read from the code, so
# that the test fails if one of them stops being retried.
DOCUMENTED_TRANSIENT = (
    "internal_error fatal_error service_unavailable request_timeout team_added_to_org org_login_required"
)


@pytest.mark.parametrize("error", DOCUMENTED_TRANSIENT.split())
def test_what_slack_documents_as_passing_is_retried_after_a_history_check(error: str) -> None:
    outcome = classify_error(refused(200, error))
    assert isinstance(outcome, Retry) and outcome.maybe_sent and not outcome.rate_limited
