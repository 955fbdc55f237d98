"""The config file of `pulse apply` (docs/config-file.md): its schema, and reading it with every value's
line and column, so that each problem can be named where it is.

Within a rollout, a key that is present says how things should be (a list present is the whole
list); a key left out leaves that part alone, as are rollouts not in the file. Touchpoints are
added or changed but never removed by omission, since that would delete their answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StringConstraints, ValidationError

from runtime.i18n import LANGUAGES

UserId = Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]{2,}$")]
ChannelId = Annotated[str, StringConstraints(pattern=r"^[CG][A-Z0-9]{2,}$")]
GroupId = Annotated[str, StringConstraints(pattern=r"^S[A-Z0-9]{2,}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]


@dataclass(frozen=True)
class OwnText:
    """An owner's text: `text` is the one written first, and `variants` its wording in each
    language given (empty when one text serves every reader). A reader sees the variant in their
    language, else `text`."""

    text: str
    variants: dict[str, str]


def _own_text(least: int, most: int) -> PlainValidator:
    """Text as typed, or one text per language (`{en: …, sv: …}`), each `least`–`most` characters."""

    def check(text: object, where: str = "") -> str:
        if not isinstance(text, str):
            raise ValueError(f"{where}should be text")
        if not least <= len(text) <= most:
            raise ValueError(f"{where}should be {least}–{most:,} characters, not {len(text):,}")
        return text

    def parse(value: object) -> OwnText:
        if isinstance(value, OwnText):
            return value
        if isinstance(value, str):
            return OwnText(check(value), {})
        if not isinstance(value, dict):
            raise ValueError("should be text, or one text per language ({en: …, sv: …})")
        if not value:
            raise ValueError("give the text, or one text per language ({en: …, sv: …})")
        variants: dict[str, str] = {}
        for language, text in value.items():
            variants[_language(language)] = check(text, f"{language}: ")
        return OwnText(next(iter(variants.values())), variants)

    return PlainValidator(parse)


def _language(value: object) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"{value!r} is not a language the bot speaks ({' or '.join(LANGUAGES)})")
    return str(value)


Language = Annotated[str, PlainValidator(_language)]
Title = Annotated[OwnText, _own_text(1, 150)]
Vision = Annotated[OwnText, _own_text(0, 2000)]


class _Spec(BaseModel):
    # A misspelt key is an error, not something silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class CohortSpec(_Spec):
    users: list[UserId] = []
    usergroups: list[GroupId] = []
    channels: list[ChannelId] = []


class StageSpec(_Spec):
    name: Key
    planned_start: date | None = None
    soak_days: Annotated[int, Field(ge=0, le=365)] | None = None  # 0: it never advances by itself
    approvers: list[UserId] | None = None  # an advance into the stage waits for one of them; []: none
    cohort: CohortSpec | None = None


class TargetSpec(_Spec):
    metric: str
    op: str
    value: float | str
    stage: Key | None = None


class TriggersSpec(_Spec):
    on_join: list[ChannelId] = []


class TouchpointSpec(_Spec):
    key: Key
    label: Title
    scale: Literal["csat", "ces", "thumbs", "minutes"]
    triggers: TriggersSpec | None = None


class RolloutSpec(_Spec):
    slug: Slug
    title: Title
    vision: Vision | None = None
    channel: ChannelId | None = None
    language: Language | None = None  # its channel posts'; None: PULSE_LANGUAGE
    owners: list[UserId] | None = None
    champions: list[UserId] | None = None
    auto_nps_after_days: Annotated[int, Field(ge=0, le=365)] | None = None
    on_regression: Literal["notify", "pause"] | None = None  # what a clear regression does
    stages: Annotated[list[StageSpec], Field(min_length=1, max_length=10)] | None = None
    targets: list[TargetSpec] | None = None
    touchpoints: list[TouchpointSpec] | None = None


class DigestSpec(_Spec):
    channel: ChannelId
    cron: str = "0 9 * * MON"
    timezone: str | None = None
    language: Language | None = None  # None: PULSE_LANGUAGE


class PulseConfig(_Spec):
    rollouts: list[RolloutSpec] = []
    digests: list[DigestSpec] | None = None


Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file, and where (1-based line and column)."""

    line: int
    column: int
    where: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.line}:{self.column}: {self.where}: {self.message}"
            if self.where
            else (f"{self.line}:{self.column}: {self.message}")
        )


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class _Loader(yaml.SafeLoader):
    """Dates stay text: pydantic parses them, so that 2026-13-45 is a located error, not a crash."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def path_text(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class Located:
    """A loaded file: its data, and the position of every value in it."""

    def __init__(self, text: str) -> None:
        try:
            node = yaml.compose(text, Loader=_Loader)
            self.data: Any = yaml.load(text, Loader=_Loader) if node is not None else {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError([Problem(line, column, "", f"not valid YAML: {problem}")]) from None
        self.marks: dict[Path, tuple[int, int]] = {(): (1, 1)}
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, path: Path) -> None:
        self.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self._walk(value, (*path, str(key.value)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*path, index))

    def problem(self, path: Path, message: str) -> Problem:
        """A problem at `path`, or at the nearest enclosing value the file has (a missing key)."""
        found = path
        while found not in self.marks:
            found = found[:-1]
        line, column = self.marks[found]
        return Problem(line, column, path_text(path), message)


_MESSAGES = {
    "extra_forbidden": "is not a setting here (misspelt?)",
    "missing": "is required",
}


def _say(error: Any) -> str:
    kind = error["type"]
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "string_pattern_mismatch":
        given = error.get("input")
        pattern = str((error.get("ctx") or {}).get("pattern", ""))
        if pattern.startswith("^[UW]"):
            return f"{given!r} is not a Slack user ID (U… or W…)"
        if pattern.startswith("^[CG]"):
            return f"{given!r} is not a channel ID (C… or G…)"
        if pattern.startswith("^S"):
            return f"{given!r} is not a user group ID (S…)"
        return f"{given!r} should be 2–40 lower-case letters, digits and dashes"
    if kind == "value_error":
        return str((error.get("ctx") or {}).get("error", error["msg"]))
    if kind.startswith("date"):
        return f"{error.get('input')!r} is not a date (YYYY-MM-DD)"
    return str(error["msg"])


def load_config(text: str) -> tuple[PulseConfig, Located]:
    """Parse and validate a config file; ConfigError lists every problem with its position."""
    located = Located(text)
    data = located.data if located.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError([located.problem((), "the file must be a mapping with rollouts: and digests:")])
    try:
        return PulseConfig.model_validate(data), located
    except ValidationError as exc:
        problems = [located.problem(tuple(e["loc"]), _say(e)) for e in exc.errors()]
        raise ConfigError(sorted(problems, key=lambda p: (p.line, p.column))) from None
