"""The keys behind anonymous answers: a master key kept outside the database, and one random
key per wave, stored only wrapped under the master key and destroyed when the wave closes.

A person's answers in a wave are stored under HMAC-SHA256(wave key, user ID). While the wave is
open, whoever holds the master key can recompute that to let the person change an answer or be
forgotten. Once the wave's key is gone nobody can, the operator included.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from storage.db import Store
from storage.keys import SCHEME_WAVE_KEYS, WaveKeys
from storage.writes import Writes, write

log = logging.getLogger(__name__)

WAVE_KEY_BYTES = 32
_NONCE_BYTES = 12


class WrongKey(Exception):
    """A wrapped wave key did not open with this master key."""


def _derive(secret: bytes, purpose: bytes) -> bytes:
    # Separate keys for separate jobs: the check value reveals nothing about the wrapping key.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"rollout-pulse " + purpose).derive(secret)


class MasterKey:
    """The operator's key (PULSE_SECRET_KEY or the key file). Never written to the database."""

    def __init__(self, secret: str) -> None:
        raw = secret.strip().encode()
        if not raw:
            raise ValueError("the master key is empty")
        self._aead = AESGCM(_derive(raw, b"wave keys"))
        self._sealing = AESGCM(_derive(raw, b"sealed references"))
        self._check = hmac.new(_derive(raw, b"key check"), b"rollout-pulse", hashlib.sha256).hexdigest()

    @property
    def check_value(self) -> str:
        """Stored in the database: tells whether a key is the right one, and nothing else."""
        return self._check

    def matches(self, check_value: str) -> bool:
        return hmac.compare_digest(self._check, check_value)

    def wrap(self, wave_id: int, wave_key: bytes) -> bytes:
        """nonce ‖ AES-256-GCM(wave key), bound to the wave so it cannot be moved to another."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, wave_key, _wave_label(wave_id))

    def unwrap(self, wave_id: int, wrapped: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], _wave_label(wave_id))
        except (InvalidTag, ValueError) as exc:
            raise WrongKey(f"the key of wave {wave_id} does not open with this master key") from exc

    def seal(self, label: str, data: bytes) -> bytes:
        """nonce ‖ AES-256-GCM(data), bound to `label` (what it is for): a reference that only this
        key opens, such as a thread's writer or the comment a Reply button names."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._sealing.encrypt(nonce, data, label.encode())

    def open(self, label: str, sealed: bytes) -> bytes | None:
        """What `seal` sealed under `label`; None when it does not open (another key, another
        label, or altered)."""
        try:
            return self._sealing.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], label.encode())
        except (InvalidTag, ValueError):
            return None


def _wave_label(wave_id: int) -> bytes:
    return f"wave:{wave_id}".encode()


def new_wave_key() -> bytes:
    return os.urandom(WAVE_KEY_BYTES)


def respondent_key(wave_key: bytes, user_id: str) -> str:
    """HMAC-SHA256(wave key, user ID): the same for one person within one wave, unreadable back
    into a user ID, and impossible to recompute once the wave key is destroyed."""
    return hmac.new(wave_key, user_id.encode(), hashlib.sha256).hexdigest()


def unlinkable_key() -> str:
    """A respondent key for an answer that must no longer be tied to anyone: random, like the rest."""
    return os.urandom(32).hex()


def legacy_respondent_key(secret: str, wave_id: int, user_id: str) -> str:
    """How answers were keyed before per-wave keys: HMAC(one secret for all, "wave:user")."""
    return hmac.new(secret.encode(), f"{wave_id}:{user_id}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class KeySetup:
    """The master key to use, and the secrets of the older scheme that open waves may be under."""

    master: MasterKey
    source: str  # for messages: "PULSE_SECRET_KEY" or the key file's path
    key_file: Path | None  # None when PULSE_SECRET_KEY is set
    legacy_secrets: tuple[str, ...] = ()
    moved_from_database: bool = False  # the key file was made from the database's generated secret


@dataclass(frozen=True)
class Upgrade:
    rekeyed_waves: int
    unlinked_waves: int
    moved_secret: bool

    @property
    def changed(self) -> bool:
        return bool(self.rekeyed_waves or self.unlinked_waves or self.moved_secret)


class KeyRing:
    """The master key in use, made ready once per process: its check value recorded in the
    database, and the waves from before per-wave keys brought under them."""

    def __init__(self, store: Store, setup: Callable[[], KeySetup]) -> None:
        self.store = store
        self.keys = WaveKeys(store)
        self._setup = setup
        self._ready: MasterKey | None = None
        self._lock = asyncio.Lock()

    async def master(self) -> MasterKey:
        if self._ready is None:
            async with self._lock:
                if self._ready is None:
                    setup = self._setup()
                    await self._install(setup)
                    self._ready = setup.master
        return self._ready

    async def wave_key(self, wave_id: int) -> bytes | None:
        """The wave's key while it is open; None once it has closed."""
        master = await self.master()
        wrapped = await self.keys.wrapped(wave_id)
        return master.unwrap(wave_id, wrapped) if wrapped is not None else None

    async def respondent_keys(self, user_id: str, wave_ids: Sequence[int]) -> dict[int, str]:
        """The person's respondent key in each of the waves that are still open."""
        master = await self.master()
        wrapped = await self.keys.wrapped_many(wave_ids)
        return {w: respondent_key(master.unwrap(w, blob), user_id) for w, blob in wrapped.items()}

    async def _install(self, setup: KeySetup) -> None:
        state = await self.keys.state()
        if state.check is not None and not setup.master.matches(state.check):
            # Checked before opening too (bot.key_file); this covers a key changed meanwhile.
            raise WrongKey(f"{setup.source} is not the key {self.store.path} was written with")
        upgrade = Upgrade(0, 0, False)
        if state.scheme != SCHEME_WAVE_KEYS:
            upgrade = await self._upgrade(setup)
        elif state.check is None:
            await write(self.store, lambda writes: writes.keys.record_check(setup.master.check_value))
        # Always once at start: a stop between a deletion and emptying the journal (a wave's
        # key destroyed, someone forgotten) must not leave the old pages there until the next.
        # The upgrade rebuilds the file too, so bytes deleted before secure_delete are gone.
        vacuum = state.scheme != SCHEME_WAVE_KEYS or state.vacuum_owed
        if await self.store.wipe_journal(vacuum=vacuum) and vacuum:
            await self.keys.vacuumed()  # else: owed, and done at a later start
        if upgrade.changed:
            moved = ""
            if upgrade.moved_secret:
                # With PULSE_SECRET_KEY set, the old generated secret is not needed any more: gone.
                master = setup.key_file or "PULSE_SECRET_KEY"
                moved = f"the generated key kept in the database is deleted (the master key is now {master}); "
            log.info(
                "%sanswers of %d open wave(s) re-keyed per wave, of %d closed wave(s) made unlinkable",
                moved,
                upgrade.rekeyed_waves,
                upgrade.unlinked_waves,
            )

    async def _upgrade(self, setup: KeySetup) -> Upgrade:
        """Waves from before per-wave keys: open ones get a key of their own and their answers
        move under it (so changing an answer and forget-me keep working); closed ones get random
        respondent keys (unlinkable, as if their key had been destroyed). One transaction."""
        open_waves, closed_waves = await self.keys.unkeyed_waves()
        plans: list[tuple[int, bytes, list[tuple[str, str]]]] = []
        unfound = 0
        for wave_id in open_waves:
            wave_key = new_wave_key()
            changes = [
                (legacy_respondent_key(secret, wave_id, user), respondent_key(wave_key, user))
                for user in await self.keys.asked_in(wave_id)
                for secret in setup.legacy_secrets
            ]
            stored = {key for _, key in await self.keys.respondent_keys_in([wave_id])}
            unfound += len(stored - {old for old, _ in changes})
            plans.append((wave_id, setup.master.wrap(wave_id, wave_key), changes))
        if unfound:
            # Left as they are, those answers could be neither changed nor forgotten, and a
            # second click would count twice: better to stop and ask for the key.
            raise WrongKey(
                f"{unfound} answer(s) of surveys still open were stored under a PULSE_SECRET_KEY that is not "
                "set now: set PULSE_SECRET_KEY to the key used before, and start again; the answers were left "
                "as they are"
            )
        unlinked: dict[int, list[tuple[str, str]]] = {}
        for wave_id, key in await self.keys.respondent_keys_in(closed_waves):
            unlinked.setdefault(wave_id, []).append((key, unlinkable_key()))

        def apply(writes: Writes) -> bool:
            for wave_id, wrapped, changes in plans:
                writes.keys.insert_wave_key(wave_id, wrapped)
                writes.keys.rekey(wave_id, changes)
            for wave_id, changes in unlinked.items():
                writes.keys.rekey(wave_id, changes)
            writes.keys.record_check(setup.master.check_value)
            return writes.keys.finish_scheme()

        moved = await write(self.store, apply)
        return Upgrade(len(plans), len(unlinked), moved)
