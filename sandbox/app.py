"""`pulse sandbox`: the Slack stand-in, the bot wired to it over real signed HTTP (the production
code path, nothing short-cut), and a web page that works like a small Slack workspace — all in
one process, with its state in a SQLite file of its own so that a restart keeps it (docs/development.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.app import Bot, build_bot
from bot.scheduler import PulseScheduler, create_scheduler, sync_digest_jobs
from bot.server import build_web_app
from bot.settings import Settings
from bot.signals import restore_signals, stop_on_signals
from runtime.clock import SystemClock, epoch
from sandbox import seed
from sandbox.page_guard import PageAddress, no_sniffing, page_guard
from sandbox.slack_to_bot import HttpTransport, SlackToBot
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import Message, Workspace, restore, snapshot
from storage import Store
from storage.slack_users import SlackUsers

log = logging.getLogger(__name__)

SAVE_EVERY_SECONDS = 2.0
STATE_TABLE = "CREATE TABLE IF NOT EXISTS sandbox_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
API_TOKEN = "sandbox-touchpoint-api-token"
SANDBOX_TIMEZONE = "Europe/Berlin"
# The languages a person can set in the sandbox's Slack: one per language the bot speaks.
LOCALES = {"en-US": "English", "sv-SE": "Svenska"}


@dataclass
class Sandbox:
    db: Path
    host: str = "127.0.0.1"
    port: int = 3000
    standin: SlackStandIn = field(init=False)
    bot: Bot = field(init=False)
    slack: SlackToBot = field(init=False)
    transport: HttpTransport = field(init=False)
    store: Store = field(init=False)
    scheduler: PulseScheduler | None = None
    read: dict[str, float] = field(default_factory=dict)  # "user channel" → last ts seen
    _dirty: bool = False
    # Known once the page is bound; until then it answers nothing (see sandbox.page_guard).
    page_address: PageAddress | None = None
    _runners: list[web.AppRunner] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    # -- life cycle -----------------------------------------------------------------------------------

    async def start(self) -> str:
        self.store = await Store.open(self.db, day_zone=ZoneInfo(SANDBOX_TIMEZONE))
        saved = await self._load()
        workspace = restore(saved["workspace"]) if saved else Workspace()
        if saved:
            self.read = saved.get("read", {})
        else:
            seed.people(workspace)
        self.standin = SlackStandIn(workspace)
        await self.standin.start()
        settings = Settings(
            _env_file=None,
            slack_bot_token=self.standin.bot_token,
            slack_signing_secret=self.standin.signing_secret,
            slack_api_url=self.standin.api_url,
            pulse_db=self.db,
            pulse_admins=seed.ADMIN,
            pulse_quiet_hours="off",  # the demo works at any hour
            pulse_timezone=SANDBOX_TIMEZONE,
            pulse_api_token=API_TOKEN,
        )
        self.bot = build_bot(settings, self.store)
        await self.bot.services.keys.master()  # its key file beside the database, as in production
        bot_url = await self._serve(build_web_app(settings, self.bot), "127.0.0.1", 0)
        self.transport = HttpTransport(f"{bot_url}/slack/events", self.standin.signing_secret)
        self.slack = SlackToBot(self.standin, self.transport)
        self.scheduler = scheduler = create_scheduler(self.bot.services, self.bot.digests)
        scheduler.start()
        await sync_digest_jobs(scheduler, self.bot.services, self.bot.digests)
        await self.bot.start()
        if not saved:
            await self._seed_rollout()
        workspace.listeners.append(lambda _kind, _data: self._touch())
        self._tasks.append(asyncio.create_task(self._save_loop(), name="sandbox saver"))
        address = await self._serve(self.page(), self.host, self.port)
        self.page_address = PageAddress(self.host, int(self._runners[-1].addresses[0][1]))
        return address

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self._save()
        await self.transport.close()
        for runner in reversed(self._runners):
            await runner.cleanup()
        if self.scheduler is not None:
            await self.scheduler.stop(3)
        await self.bot.stop(3)
        await self.standin.stop()
        await self.store.close()

    async def _serve(self, app: web.Application, host: str, port: int) -> str:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runners.append(runner)
        bound = next(a for a in runner.addresses)
        return f"http://{host}:{bound[1]}"

    async def _seed_rollout(self) -> None:
        services = self.bot.services
        cast = seed.cast_of(self.standin.workspace)
        await seed.rollout(services, self.standin.workspace, cast, services.clock.now())
        # Today's survey goes out the way every survey does: queued, then sent by the bot.
        await services.surveys.send_nps(cast.owner, seed.SLUG, services.directory)
        self._touch()

    # -- saving the workspace -------------------------------------------------------------------------

    def _touch(self) -> None:
        self._dirty = True

    async def _load(self) -> dict[str, Any] | None:
        await self.store.execute(STATE_TABLE)
        value = await self.store.fetch_value("SELECT value FROM sandbox_state WHERE key = 'state'")
        return json.loads(value) if value else None

    async def _save(self) -> None:
        state = json.dumps({"workspace": snapshot(self.standin.workspace), "read": self.read})
        await self.store.execute(
            "INSERT INTO sandbox_state (key, value) VALUES ('state', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (state,),
        )
        self._dirty = False

    async def _save_loop(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY_SECONDS)
            if self._dirty:
                try:
                    await self._save()
                except Exception:
                    log.exception("could not save the sandbox workspace")

    # -- the page and its API -------------------------------------------------------------------------

    def page(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024, middlewares=[page_guard(lambda: self.page_address)])
        app.on_response_prepare.append(no_sniffing)
        static = resources.files("sandbox") / "static"
        index = (static / "index.html").read_text(encoding="utf-8")

        async def home_page(_request: web.Request) -> web.Response:
            return web.Response(text=index, content_type="text/html")

        async def asset(request: web.Request) -> web.Response:
            name = request.match_info["name"]
            if name not in ("app.js", "style.css"):
                raise web.HTTPNotFound()
            kind = "application/javascript" if name.endswith(".js") else "text/css"
            return web.Response(text=(static / name).read_text(encoding="utf-8"), content_type=kind)

        app.router.add_get("/", home_page)
        app.router.add_get("/static/{name}", asset)
        app.router.add_get("/api/state", self.state)
        app.router.add_get("/api/messages", self.messages)
        app.router.add_post("/api/command", self.command)
        app.router.add_post("/api/click", self.click)
        app.router.add_post("/api/submit", self.submit)
        app.router.add_post("/api/close-modal", self.close_modal)
        app.router.add_post("/api/open-home", self.open_home)
        app.router.add_get("/api/home", self.home)
        app.router.add_post("/api/join", self.join)
        app.router.add_post("/api/locale", self.locale)
        app.router.add_post("/api/simulate", self.simulate)
        app.router.add_post("/api/digest", self.digest)
        app.router.add_get("/api/events", self.events)
        app.router.add_get("/files/{file_id}", self.file)
        return app

    @property
    def ws(self) -> Workspace:
        return self.standin.workspace

    def _viewer(self, request: web.Request, body: dict[str, Any] | None = None) -> str:
        user = (body or {}).get("as") or request.query.get("as", "")
        if user not in self.ws.users or self.ws.users[user].is_bot:
            raise web.HTTPBadRequest(text="pick a person to be")
        return str(user)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="send JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="send a JSON object")
        return body

    def _unread(self, user: str, channel: str) -> int:
        seen = self.read.get(f"{user} {channel}", 0.0)
        return sum(
            1
            for m in self.ws.history(channel, viewer=user)
            if float(m.ts) > seen and m.user != user and (m.ephemeral_to in (None, user))
        )

    async def state(self, request: web.Request) -> web.Response:
        people = []
        roles = await self._roles()
        for user in self.ws.users.values():
            if user.is_bot or user.deleted:
                continue
            people.append({"id": user.id, "name": user.name, "real_name": user.real_name, "title": user.title,
                           "tz": user.tz, "locale": user.locale, "roles": roles.get(user.id, [])})  # fmt: skip
        body: dict[str, Any] = {"people": people, "admin": seed.ADMIN}
        viewer = request.query.get("as")
        if viewer in self.ws.users:
            channels = [c for c in self.ws.channels.values() if not c.is_im and viewer in c.members]
            dm = self.ws.im_with(viewer)
            body["channels"] = [
                {"id": c.id, "name": c.name, "private": c.is_private, "unread": self._unread(viewer, c.id)}
                for c in sorted(channels, key=lambda c: c.name)
            ]
            body["dm"] = {"id": dm.id, "name": "Rollout Pulse", "unread": self._unread(viewer, dm.id)}
            body["others"] = [{"id": c.id, "name": c.name} for c in self.ws.channels.values()
                              if not c.is_im and not c.is_private and viewer not in c.members]  # fmt: skip
            modal = self.ws.top_modal(viewer)
            body["modal"] = {"id": modal.id, "view": modal.payload, "errors": modal.errors} if modal else None
        return web.json_response(body)

    async def _roles(self) -> dict[str, list[str]]:
        roles: dict[str, list[str]] = {seed.ADMIN: ["admin"]}
        for detail in await self.bot.services.rollouts.open_rollouts():
            for owner in detail.owners:
                roles.setdefault(owner, []).append(f"owner of {detail.rollout.slug}")
            for champion in detail.champions:
                roles.setdefault(champion, []).append(f"champion of {detail.rollout.slug}")
        return roles

    def _message(self, message: Message) -> dict[str, Any]:
        author = self.ws.users.get(message.user or "")
        files = [
            {"id": f, "name": self.ws.files[f].name, "mimetype": self.ws.files[f].mimetype, "url": f"/files/{f}"}
            for f in message.files
            if f in self.ws.files
        ]
        return {
            "ts": message.ts,
            "author": "Rollout Pulse" if message.bot_id else (author.real_name if author else message.user),
            "bot": bool(message.bot_id),
            "text": message.text,
            "blocks": message.blocks,
            "files": files,
            "ephemeral": message.ephemeral_to is not None,
            "edited": message.edited,
            "command": message.via_command,
        }

    async def messages(self, request: web.Request) -> web.Response:
        viewer = self._viewer(request)
        channel = request.query.get("channel", "")
        if channel not in self.ws.channels or viewer not in self.ws.channels[channel].members:
            raise web.HTTPNotFound(text="no such conversation")
        history = self.ws.history(channel, viewer=viewer)
        if history:
            self.read[f"{viewer} {channel}"] = max(float(history[-1].ts), self.read.get(f"{viewer} {channel}", 0))
            self._touch()
        names = {u.id: u.real_name for u in self.ws.users.values()}
        names.update({c.id: c.name for c in self.ws.channels.values() if not c.is_im})
        names.update({g.id: g.handle for g in self.ws.usergroups.values()})
        return web.json_response({"messages": [self._message(m) for m in history], "names": names})

    async def command(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        viewer = self._viewer(request, body)
        channel = str(body.get("channel", ""))
        text = str(body.get("text", "")).strip()
        if channel not in self.ws.channels:
            raise web.HTTPBadRequest(text="no such conversation")
        if not text:
            raise web.HTTPBadRequest(text="nothing to send")
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            if command not in ("/rollout", "/pulse"):
                return web.json_response(
                    {"ok": False, "error": f"{command} is not a command here: try /rollout or /pulse"}
                )
            reply = await self.slack.command(viewer, rest, command=command, channel=channel)
            return web.json_response({"ok": reply.status == 200, "status": reply.status})
        self.ws.post(Message(channel=channel, ts=self.ws.new_ts(), text=text, user=viewer))
        return web.json_response({"ok": True})

    async def click(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        viewer = self._viewer(request, body)
        action_id, value = str(body.get("action_id", "")), body.get("value")
        try:
            if body.get("view"):
                view = self.ws.views.get(str(body["view"]))
                if view is None:
                    raise web.HTTPNotFound(text="no such view")
                reply = await self.slack.click(viewer, action_id, value=value, view=view)
            else:
                message = self.ws.find_message(str(body.get("channel", "")), str(body.get("ts", "")))
                if message is None:
                    raise web.HTTPNotFound(text="no such message")
                reply = await self.slack.click(viewer, action_id, value=value, message=message)
        except LookupError:
            raise web.HTTPNotFound(text="no such button") from None
        return web.json_response({"ok": reply.status == 200, "status": reply.status})

    async def submit(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        viewer = self._viewer(request, body)
        values = body.get("values") or {}
        if not isinstance(values, dict):
            raise web.HTTPBadRequest(text="values must be an object")
        try:
            reply = await self.slack.submit(viewer, {str(k): str(v) for k, v in values.items()})
        except LookupError:
            raise web.HTTPNotFound(text="no open modal") from None
        return web.json_response(
            {"ok": reply.status == 200, "answer": reply.json if reply.text.startswith("{") else {}}
        )

    async def close_modal(self, request: web.Request) -> web.Response:
        viewer = self._viewer(request, await self._body(request))
        self.ws.modal_stacks[viewer] = []
        self.ws.notify("view_closed", {"user": viewer})
        return web.json_response({"ok": True})

    async def open_home(self, request: web.Request) -> web.Response:
        viewer = self._viewer(request, await self._body(request))
        await self.slack.open_home(viewer)
        return web.json_response({"ok": True})

    async def home(self, request: web.Request) -> web.Response:
        viewer = self._viewer(request)
        view = self.ws.home_of(viewer)
        names = {u.id: u.real_name for u in self.ws.users.values()}
        return web.json_response({"view": {"id": view.id, **view.payload} if view else None, "names": names})

    async def join(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        viewer = self._viewer(request, body)
        channel = str(body.get("channel", ""))
        if channel not in self.ws.channels or self.ws.channels[channel].is_im:
            raise web.HTTPBadRequest(text="no such channel")
        await self.slack.join(viewer, channel)
        return web.json_response({"ok": True})

    async def locale(self, request: web.Request) -> web.Response:
        """The person sets their language in Slack. The bot would notice within a day, when its
        cache of what Slack said expires; the sandbox lets it notice at once."""
        body = await self._body(request)
        viewer = self._viewer(request, body)
        locale = str(body.get("locale", ""))
        if locale not in LOCALES:
            raise web.HTTPBadRequest(text="pick one of " + ", ".join(LOCALES))
        self.ws.users[viewer].locale = locale
        await SlackUsers(self.store).forget(viewer)
        await self.bot.services.directory.people([viewer])
        self._touch()
        return web.json_response({"ok": True, "locale": locale})

    async def simulate(self, request: web.Request) -> web.Response:
        """The simulated people answer their open surveys (everyone but whoever you are)."""
        body = await self._body(request)
        viewer = body.get("as")
        answered = await simulate_answers(self, skip=str(viewer) if viewer else None)
        return web.json_response({"ok": True, "answered": answered})

    async def digest(self, request: web.Request) -> web.Response:
        posted = await self.bot.digests.post_now(seed.LEADS)
        return web.json_response({"ok": True, "posted": [p.status for p in posted]})

    async def file(self, request: web.Request) -> web.Response:
        found = self.ws.files.get(request.match_info["file_id"])
        if found is None or not found.uploaded:
            raise web.HTTPNotFound()
        return web.Response(body=found.content, content_type=found.mimetype)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the page hears of every change and refreshes what it shows."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)

        def listener(kind: str, data: dict[str, Any]) -> None:
            with suppress(asyncio.QueueFull):
                queue.put_nowait(json.dumps({"kind": kind, **data}))

        self.ws.listeners.append(listener)
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=15)
                    await response.write(f"data: {event}\n\n".encode())
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.ws.listeners.remove(listener)
        return response


async def simulate_answers(sandbox: Sandbox, *, skip: str | None) -> int:
    """Each simulated person with an open survey clicks an answer, through Slack's own path."""
    store = sandbox.store
    rows = await store.fetch_all(
        """SELECT d.user_id, d.dm_channel, d.message_ts, w.kind FROM deliveries d JOIN waves w ON w.id = d.wave_id
           WHERE d.status = 'sent' AND d.answered = 0 AND w.closed_at IS NULL AND w.closes_at > ?""",
        (epoch(SystemClock().now()),),
    )
    rng = random.Random()
    answered = 0
    for user, channel, ts, kind in rows:
        if user == skip or channel is None:
            continue
        message = sandbox.ws.find_message(channel, ts)
        if message is None:
            continue
        buttons = [e for b in message.blocks if b.get("type") == "actions" for e in b.get("elements", [])]
        if not buttons:
            continue
        weights = [1 + i * (0.6 if kind == "nps" else 1.0) for i in range(len(buttons))]
        choice = rng.choices(buttons, weights=weights)[0]
        reply = await sandbox.slack.click(user, choice["action_id"], value=choice.get("value"), message=message)
        answered += int(reply.status == 200)
    return answered


@asynccontextmanager
async def running(db: Path, host: str, port: int) -> AsyncIterator[tuple[Sandbox, str]]:
    sandbox = Sandbox(db, host, port)
    address = await sandbox.start()
    try:
        yield sandbox, address
    finally:
        await sandbox.stop()


async def run_sandbox(db: Path, host: str, port: int) -> int:
    """Run until SIGINT or SIGTERM."""
    stop = stop_on_signals()
    try:
        async with running(db, host, port) as (_sandbox, address):
            log.info("the sandbox is at %s — open it in a browser (Ctrl+C stops it; %s keeps its state)", address, db)
            print(f"Rollout Pulse sandbox: open {address} in your browser. Ctrl+C stops it.", flush=True)  # noqa: T201
            await stop.wait()
            restore_signals()  # a second Ctrl+C while it saves and shuts down ends it at once
    finally:
        restore_signals()
    return 0
