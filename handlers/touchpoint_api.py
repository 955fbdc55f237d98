"""POST /touchpoints/<slug>/<key>: the real service reports "this person just used it" (docs/surveys.md).

Authorization: Bearer $PULSE_API_TOKEN; body {"user": "U…"} or {"email": "…"}. Answers 202 with
the delivery id, 401 without the token, 404 for an unknown rollout or touchpoint, 422 for a bad
body, 409 when the rollout sends no surveys now, 503 (Retry-After) when the database cannot be
written just now (locked by another process, or the disk is full).
"""

from __future__ import annotations

import hmac
import json
import logging
import re

from aiohttp import web

from services import Services
from services.errors import Conflict, DomainError, NotFound, StorageError, Unavailable, storage_problem

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")


def _problem(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class TouchpointApi:
    def __init__(self, services: Services, token: str | None) -> None:
        """`token`: the bearer token callers must present (PULSE_API_TOKEN); None turns the API off."""
        self.services = services
        self._token = token

    async def handle(self, request: web.Request) -> web.Response:
        if self._token is None:
            return _problem(403, "the touchpoint API is turned off: set PULSE_API_TOKEN to turn it on")
        given = request.headers.get("Authorization", "")
        if not given.startswith("Bearer ") or not hmac.compare_digest(
            given[len("Bearer ") :].encode("utf-8", "replace"), self._token.encode()
        ):
            return web.json_response(
                {"error": "send Authorization: Bearer <PULSE_API_TOKEN>"},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return _problem(413, "the body is too large")
        try:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            return _problem(422, 'the body must be JSON: {"user": "U…"} or {"email": "…"}')
        if not isinstance(body, dict) or len(body.keys() & {"user", "email"}) != 1:
            return _problem(422, 'give exactly one of "user" (a Slack user ID) or "email"')
        slug, key = request.match_info["slug"], request.match_info["key"]
        try:
            user = await self._person(body)
            if isinstance(user, web.Response):
                return user
            report = await self.services.surveys.api_trigger(slug, key, user, self.services.directory)
        except NotFound as err:
            return _problem(404, str(err.message))
        except Conflict as err:
            return _problem(409, str(err.message))
        except Unavailable as err:
            return _problem(503, str(err.message))
        except DomainError as err:
            return _problem(422, str(err.message))
        except StorageError as exc:
            problem = storage_problem(exc)
            if problem is None:
                raise
            # Nothing was queued (the write is one transaction): the caller may send it again.
            log.error("the touchpoint API could not write to the database: %s", problem[1])
            return web.json_response(
                {"error": "the bot cannot store this right now; nothing was queued, try again in a minute"},
                status=503,
                headers={"Retry-After": "60"},
            )
        delivery_id = report.delivery_ids.get(user)
        if report.skipped:
            code = next(iter(report.skipped))
            answer = {
                "delivery_id": delivery_id,
                "status": "skipped",
                "reason": str(self.services.surveys.skip_reason(code)),
            }
        else:
            answer = {"delivery_id": delivery_id, "status": "held" if report.held else "queued"}
        return web.json_response(answer, status=202)

    async def _person(self, body: dict[str, object]) -> str | web.Response:
        directory = self.services.directory
        if "user" in body:
            user = body["user"]
            if not isinstance(user, str) or not USER_ID.match(user):
                return _problem(422, '"user" must be a Slack user ID such as U012ABCDEF')
            if user not in await directory.people([user]):
                return _problem(422, f"there is no person {user} in this workspace")
            return user
        email = body["email"]
        if not isinstance(email, str) or not EMAIL.match(email):
            return _problem(422, '"email" must be an e-mail address')
        person = await directory.person_by_email(email)
        if person is None:
            return _problem(422, "nobody in this workspace has that e-mail address")
        return person.id
