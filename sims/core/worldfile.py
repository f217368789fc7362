"""Loading and validating world files: YAML in, a pydantic model out, or a message naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class WorldError(Exception):
    """A world file that cannot be used; the message names the file and each offending field."""


class Strict(BaseModel):
    """Base for world-file models: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=False)


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def format_validation_error(source: str, err: ValidationError) -> str:
    lines = [f"invalid world file {source}:"]
    for e in err.errors():
        # pydantic puts the union member / validator name in the loc; keep only real keys
        loc = tuple(
            p for p in e["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))
        )
        lines.append(f"  {_field_path(loc)}: {e['msg']}")
    return "\n".join(lines)


def parse_world(data: object, model: type[M], source: str) -> M:
    if not isinstance(data, dict):
        raise WorldError(f"invalid world file {source}: the top level must be a mapping")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise WorldError(format_validation_error(source, err)) from None


def load_world_file(path: str | Path, model: type[M]) -> M:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise WorldError(f"cannot read world file {path}: {err.strerror or err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise WorldError(f"invalid world file {path}: not valid YAML{where}: {problem}") from None
    return parse_world(data, model, str(path))
