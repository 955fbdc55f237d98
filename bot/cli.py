"""`pulse …` and `python -m bot …`: the only place that reads argv and starts an event loop."""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from bot.key_file import KeyProblem, key_file_path, open_store
from bot.logs import setup_logging
from bot.settings import Settings, SettingsError, load_settings, require_for_serving
from runtime.clock import SystemClock
from runtime.i18n import texts
from services import Services, disclosure
from services.config_apply import Change, ConfigService, plan_text
from services.config_file import ConfigError, Located, PulseConfig, load_config
from services.directory import NoDirectory
from services.disclosure import Export
from services.errors import DomainError
from services.keys import WrongKey
from storage import MigrationError, Store, backup
from storage.counts import Counts

if TYPE_CHECKING:
    from handlers.blocks.heatmap import Heatmap

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _version() -> str:
    try:
        return version("rollout-pulse")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pulse",
        description="Rollout Pulse: staged rollouts with NPS and touchpoint surveys in Slack.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    commands.add_parser("serve", help="run the bot (HTTP, or Socket Mode when SLACK_APP_TOKEN is set)")
    commands.add_parser("migrate", help="create or upgrade the database schema")
    sandbox_cmd = commands.add_parser("sandbox", help="the whole bot against a local Slack workspace in your browser")
    sandbox_cmd.add_argument("--port", type=int, default=3000, help="the page's port (default 3000)")
    sandbox_cmd.add_argument("--host", default="127.0.0.1", help="the page's address (default 127.0.0.1)")
    sandbox_cmd.add_argument("--db", type=Path, default=Path("sandbox.db"), help="its state (default ./sandbox.db)")
    apply_cmd = commands.add_parser("apply", help="create or update rollouts and digests from a YAML file")
    apply_cmd.add_argument("file", type=Path, metavar="FILE")
    apply_cmd.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    export_cmd = commands.add_parser("export", help="write a rollout's answers as CSV (no names, no IDs)")
    export_cmd.add_argument("slug", metavar="SLUG")
    export_cmd.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here (default: stdout)")
    map_cmd = commands.add_parser("map", help="draw a rollout's feedback map as a PNG heatmap")
    map_cmd.add_argument("slug", metavar="SLUG")
    map_cmd.add_argument("-o", "--output", type=Path, metavar="FILE", required=True, help="the PNG to write")
    commands.add_parser(
        "rebuild-counts", help="recompute the kept counts (answers per day, surveys sent) from the stored rows"
    )
    digest_cmd = commands.add_parser("digest", help="post the metric digest")
    digest_cmd.add_argument("--now", action="store_true", required=True, help="post the current digest at once")
    digest_cmd.add_argument("--channel", metavar="C", help="only to this channel ID (default: every subscribed one)")
    backup_cmd = commands.add_parser("backup", help="write a consistent copy of the live database")
    backup_cmd.add_argument("file", type=Path, metavar="FILE")
    backup_cmd.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    return parser


def _fail(lines: Sequence[str], code: int) -> int:
    for line in lines:
        print(f"pulse: {line}", file=sys.stderr)
    return code


async def _migrate(settings: Settings) -> int:
    store, keys = await open_store(settings)
    try:
        applied = store.applied_at_open
        await Services(settings=settings, store=store, directory=NoDirectory(), key_setup=keys).keys.master()
    finally:
        await store.close()
    if applied:
        names = ", ".join(f"{m.version} ({m.name})" for m in applied)
        print(f"migrated {settings.pulse_db}: applied {names}")
    else:
        print(f"{settings.pulse_db} is up to date")
    return EXIT_OK


async def _rebuild_counts(settings: Settings) -> int:
    store, _keys = await open_store(settings)
    try:
        found = await Counts(store).rebuild()
    finally:
        await store.close()
    if found.true:
        print(f"rebuilt the counts of {settings.pulse_db}: they matched the rows")
    else:
        print(
            f"rebuilt the counts of {settings.pulse_db}: {found.days} day count(s) and {found.waves} wave count(s) "
            "differed from the rows and now match them"
        )
    return EXIT_OK


@contextmanager
def _only_digest_now(db: Path) -> Iterator[bool]:
    """True while this is the only `pulse digest --now` on this database. Two at once would
    each take the other's half-posted run for an interrupted one and finish it: every message
    twice. The lock is the kernel's, so a `kill -9` releases it and a rerun resumes. The path
    is resolved so that `pulse.db`, `./pulse.db` and a link to it are one lock."""
    with open(f"{db.resolve()}.digest-now.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


async def _digest_now(settings: Settings, channel: str | None) -> int:
    from bot.app import build_bot  # the Slack side is needed here only

    if settings.slack_bot_token is None:
        require_for_serving(settings)
    store, keys = await open_store(settings)  # first: it says clearly what is wrong with the path or key
    try:
        with _only_digest_now(settings.pulse_db) as alone:
            if not alone:
                return _fail(
                    ["another `pulse digest --now` is posting from this database; nothing was posted — wait for it"],
                    EXIT_FAILED,
                )
            results = await build_bot(settings, store, keys=keys).digests.post_now(channel)
    finally:
        await store.close()
    if not results:
        return _fail(["no channel is subscribed to the digest; pass --channel C (a channel ID)"], EXIT_USAGE)
    for result in results:
        chart = f", chart {result.chart}" if result.chart else ""
        print(f"{result.channel}: {result.status} ({result.parts} message(s){chart})")
    return EXIT_OK if all(r.status == "posted" for r in results) else EXIT_FAILED


async def _services(settings: Settings) -> tuple[Store, Services]:
    """The store and services for a command that needs no Slack."""
    store, keys = await open_store(settings)
    return store, Services(settings=settings, store=store, directory=NoDirectory(), key_setup=keys)


async def _export_csv(settings: Settings, slug: str) -> Export:
    store, services = await _services(settings)
    try:
        detail = await services.rollouts.get(slug)
        return await disclosure.export(store, detail.rollout.id)
    finally:
        await store.close()


def _export(settings: Settings, slug: str, output: Path | None) -> int:
    try:
        exported = asyncio.run(_export_csv(settings, slug))
    except DomainError as err:
        return _fail([str(err.message)], EXIT_USAGE)  # the operator reads English
    if output is None:
        sys.stdout.write(exported.csv)
    else:
        output.write_text(exported.csv, encoding="utf-8")
        wrote = f"wrote {exported.answers} answers and {exported.comments} comments of {slug} to {output}"
        print(wrote, file=sys.stderr)
    print(disclosure.held_back_note(settings.pulse_min_group), file=sys.stderr)
    return EXIT_OK


async def _heatmap(settings: Settings, slug: str) -> Heatmap:
    from handlers.blocks.heatmap import render_heatmap  # matplotlib: only for this command

    store, services = await _services(settings)
    try:
        detail = await services.rollouts.get(slug)
        return render_heatmap(texts(settings.pulse_language), await services.maps.build(detail))
    finally:
        await store.close()


def _map(settings: Settings, slug: str, output: Path) -> int:
    try:
        drawn = asyncio.run(_heatmap(settings, slug))
    except DomainError as err:
        return _fail([str(err.message)], EXIT_USAGE)  # the operator reads English
    output.write_bytes(drawn.png)
    print(f"wrote the feedback map of {slug} to {output}: {drawn.cells} cells shown, {drawn.withheld} with too few "
          "answers to show", file=sys.stderr)  # fmt: skip
    return EXIT_OK


async def _plan_and_apply(settings: Settings, config: PulseConfig, located: Located, dry_run: bool) -> list[Change]:
    store, _ = await open_store(settings)  # the key is checked even though applying needs none
    try:
        service = ConfigService(store, settings, SystemClock())
        changes = await service.plan(config, located)
        if changes and not dry_run:
            await service.apply(changes)
        return changes
    finally:
        await store.close()


def _apply(settings: Settings, file: Path, dry_run: bool) -> int:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _fail([f"cannot read {file}: {exc}"], EXIT_USAGE)
    try:
        config, located = load_config(text)
        changes = asyncio.run(_plan_and_apply(settings, config, located, dry_run))
    except ConfigError as err:
        lines = [f"{file}:{problem}" for problem in err.problems]
        lines.append(f"{file}: {len(err.problems)} problem(s); nothing was changed")
        return _fail(lines, EXIT_USAGE)
    print(plan_text(changes))
    if changes:
        print(f"{len(changes)} change(s) " + ("would be made (dry run: nothing was changed)" if dry_run else "made"))
    return EXIT_OK


def _backup(settings: Settings, target: Path, force: bool) -> int:
    if target.exists() and not force:
        return _fail([f"{target} already exists; pass --force to overwrite it"], EXIT_USAGE)
    backup(settings.pulse_db, target)
    print(f"backed up {settings.pulse_db} to {target} (integrity check: ok)")
    if settings.pulse_secret_key is not None:
        where = "PULSE_SECRET_KEY, which is not in the backup"
    else:
        where = f"the key file {key_file_path(settings)}, which is not in the backup"
    print(
        f"the master key is {where}: keep a copy of it apart from the backups. Without it the answers of "
        "surveys still open can no longer be changed or forgotten, and the bot will not start on this backup."
    )
    return EXIT_OK


def _dispatch(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "serve":
        require_for_serving(settings)
        from bot.server import serve  # imported here: migrate and backup need no Slack libraries

        return asyncio.run(serve(settings))
    if args.command == "sandbox":
        from sandbox.app import run_sandbox  # the stand-in and the page: only for this command

        return asyncio.run(run_sandbox(args.db, args.host, args.port))
    commands: dict[str, Callable[[], int]] = {
        "migrate": lambda: asyncio.run(_migrate(settings)),
        "backup": lambda: _backup(settings, args.file, args.force),
        "apply": lambda: _apply(settings, args.file, args.dry_run),
        "export": lambda: _export(settings, args.slug, args.output),
        "map": lambda: _map(settings, args.slug, args.output),
        "digest": lambda: asyncio.run(_digest_now(settings, args.channel)),
        "rebuild-counts": lambda: asyncio.run(_rebuild_counts(settings)),
    }
    if args.command not in commands:
        raise AssertionError(f"unhandled command {args.command}")
    return commands[args.command]()


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        setup_logging(settings.pulse_log_format)
        return _dispatch(settings, args)
    except SettingsError as exc:
        return _fail(exc.lines, EXIT_USAGE)
    except (KeyProblem, WrongKey) as exc:
        return _fail([str(exc)], EXIT_USAGE)
    except MigrationError as exc:
        return _fail([str(exc)], EXIT_FAILED)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        return _fail(
            [f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ") if exc.strerror else str(exc)],
            EXIT_USAGE,
        )
    except (sqlite3.Error, ValueError, OSError) as exc:
        return _fail([f"{type(exc).__name__}: {exc}"], EXIT_FAILED)
    except KeyboardInterrupt:
        return EXIT_OK


def main() -> None:
    sys.exit(run())
