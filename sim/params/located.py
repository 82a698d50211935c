"""THE located-error translator: problems in a YAML document -> one clear ScenarioError.

Every input file (scenario, sweep, sensitivity, compare, validation, calibration) is read
with :func:`sim.params.yamlio.read_yaml`, which records the line of every key path, and
validated by a :class:`Strict` pydantic schema. :class:`Located` turns what goes wrong
(a pydantic error, an unknown key, a bad value found later) into a ScenarioError naming
the file, the line, the key path, what was expected and, for a misspelt key or value,
a did-you-mean.
"""

from __future__ import annotations

import difflib
import functools
import re
import types
import typing
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from sim.params.errors import ScenarioError, cut, short
from sim.params.yamlio import Location, read_yaml

_BOUNDS = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=",
           "less_than": "<"}


class Strict(BaseModel):
    """Base of every input-file schema: unknown keys are errors, parsed specs immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def dotted(loc: Sequence[str]) -> str:
    """A key path as written in messages: ``('levers', 'a.b', '2')`` -> ``levers.a.b[2]``.

    A long key is cut (``errors.cut``): the key is the user's own text, and a message
    may name it several times.
    """
    out = ""
    for part in loc:
        out += f"[{part}]" if part.isdigit() else ("." if out else "") + cut(part)
    return out


def model_at(root: type[BaseModel], loc: Sequence[str]) -> type[BaseModel] | None:
    """The schema section at ``loc`` below ``root``; None if ``loc`` names no section.

    Mapping keys and list indices of ``dict[str, Section]`` / ``list[Section]`` fields are
    walked through; a plain value or nothing gives None.
    """
    annotation: Any = root
    for part in loc:
        model = section_type(annotation)
        if model is not None and part in model.model_fields:
            annotation = model.model_fields[part].annotation
            continue
        item = _item(annotation)
        if item is None:
            return None
        annotation = item
    return section_type(annotation)


def _members(annotation: Any) -> tuple[Any, ...]:
    """The alternatives of a union (Optional included), else the annotation itself."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def section_type(annotation: Any) -> type[BaseModel] | None:
    """The section model an annotation names (None for a plain value)."""
    for cand in _members(annotation):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _item(annotation: Any) -> Any:
    """The value type of a ``dict[str, X]`` or ``list[X]`` member of ``annotation``."""
    for cand in _members(annotation):
        origin, args = typing.get_origin(cand), typing.get_args(cand)
        if origin is dict and len(args) == 2:
            return args[1]
        if origin is list and args:
            return args[0]
    return None


def _key_path(loc: Sequence[Any], root: type[BaseModel] | None) -> tuple[str, ...]:
    """Pydantic's error loc as a key path.

    The tags it adds for union members (``dict[str,any]``, ``DesignSpec``) are dropped.
    """
    models = _model_names(root) if root else frozenset()
    return tuple(str(p) for p in loc
                 if not re.fullmatch(r"[\w-]+\[.*\]", str(p)) and str(p) not in models)


@functools.cache
def _model_names(root: type[BaseModel]) -> frozenset[str]:
    """Names of ``root`` and every section model below it."""
    names, todo = set(), [root]
    while todo:
        model = todo.pop()
        if model.__name__ in names:
            continue
        names.add(model.__name__)
        for info in model.model_fields.values():
            for annotation in (info.annotation, _item(info.annotation)):
                if (sub := section_type(annotation)) is not None:
                    todo.append(sub)
    return frozenset(names)


class Located:
    """A document's label and key lines; makes ScenarioErrors that name file and line.

    Args:
        label: the file name (or ``command line``) used when a key has no recorded line.
        lines: ``{key path: (file, line)}`` from :func:`read_yaml` (extended as needed).
        root: the document's schema, for did-you-mean suggestions and key descriptions.
        examples: per section model, an example shown when that mapping is expected and
            something else was given.
    """

    def __init__(self, label: str, lines: MutableMapping[tuple[str, ...], Location],
                 root: type[BaseModel] | None = None,
                 examples: Mapping[type[BaseModel], str] | None = None) -> None:
        self.label, self.lines, self.root = label, lines, root
        self.examples = dict(examples or {})

    def location(self, loc: Sequence[str]) -> Location:
        """(file, line) of the deepest recorded key of ``loc``.

        The file may be another one: a parent scenario, an override.
        """
        loc = tuple(loc)
        for n in range(len(loc), 0, -1):
            found = self.lines.get(loc[:n])
            if found:
                return found
        return self.label, None

    def line(self, loc: Sequence[str]) -> int | None:
        """Line of the deepest known key of ``loc``."""
        return self.location(loc)[1]

    def error(self, message: str, loc: Sequence[str]) -> ScenarioError:
        """A ScenarioError at ``loc``; the key path is prefixed unless the message has it."""
        where = dotted(loc)
        text = message if not where or where in message else f"{where}: {message}"
        file, line = self.location(loc)
        return ScenarioError(text, file=file, line=line, path=where or None)

    def pydantic(self, exc: ValidationError) -> ScenarioError:
        """The first problem of a pydantic error, located; up to three more summarised.

        Only those four are described: a list of sections repeated by YAML aliases can hold
        100,000 problems, and describing each (did-you-means included) took seconds.
        """
        errors = exc.errors(include_url=False)
        found = [self.describe(e) for e in errors[:4]]
        message, loc = found[0]
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more: " + "; ".join(
                self._where(lc) + m for m, lc in found[1:]) + ")"
        return self.error(message, loc)

    def _where(self, loc: tuple[str, ...]) -> str:
        file, line = self.location(loc)
        if line is None:
            return ""
        return (f"line {line}: " if file == self.label else f"{file}, line {line}: ")

    def validate(self, model: type[BaseModel], data: Any) -> Any:
        """``model.model_validate(data)``, its errors translated."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise self.pydantic(exc) from None

    def describe(self, err: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
        """One pydantic error as (message, key path)."""
        kind, ctx, got = err["type"], err.get("ctx", {}), err.get("input")
        loc = _key_path(err["loc"], self.root)
        if kind == "extra_forbidden" and err["loc"]:  # the unknown key is the user's own,
            # never a union tag, even when it reads like one (``Program``, ``0[``)
            loc = _key_path(err["loc"][:-1], self.root) + (str(err["loc"][-1]),)
        where = dotted(loc)
        section = model_at(self.root, loc[:-1]) if self.root and loc else None
        if kind == "extra_forbidden":
            valid = list(section.model_fields) if section else []
            return (f"unknown key '{where}'{_did_you_mean(loc[-1], valid)} Valid keys in "
                    f"{dotted(loc[:-1]) or 'the top level'}: {', '.join(valid)}", loc)
        if kind == "missing":
            info = section.model_fields[loc[-1]].description if section and \
                loc[-1] in section.model_fields else ""
            return f"missing required key '{where}' ({info})", loc
        if kind in _BOUNDS:
            bound = next(iter(ctx.values()))
            bound = f"{bound:g}" if isinstance(bound, float) else bound
            return f"{where} must be {_BOUNDS[kind]} {bound}, got {short(got)}", loc
        if kind == "literal_error":
            expected = ctx.get("expected", "")
            hint = _did_you_mean(got, re.findall(r"'([^']*)'", str(expected))) \
                if isinstance(got, str) else ""
            return f"{where} must be one of {expected}, got {short(got)}{hint}", loc
        if kind == "value_error":  # a whole-document check has no key path
            return f"{where + ': ' if where else ''}{ctx.get('error', err['msg'])}", loc
        if kind == "finite_number":
            return f"{where} must be a finite number, got {short(got)}", loc
        if kind in {"too_short", "too_long"}:
            return f"{where}: {_lower_first(err['msg'])}", loc
        if kind in {"model_type", "dict_type"}:
            return f"{where} must be {self._mapping(loc)}, got {short(got)}", loc
        return f"{where}: {_lower_first(err['msg'])}, got {short(got)}", loc

    def _mapping(self, loc: tuple[str, ...]) -> str:
        example = self.examples.get(model_at(self.root, loc)) if self.root else None
        return f"a mapping (e.g. {example})" if example else "a section (a mapping of keys)"

    def rethrow(self, exc: ScenarioError, section: str, keys: Sequence[str],
                prefix: str = "") -> ScenarioError:
        """Re-locate the error of an override (a ``set:`` key) at the key that caused it.

        An error inside another file keeps its own location.
        """
        if exc.file and not exc.file.startswith(("override", "--set")):
            return exc
        culprit = next((k for k in keys if exc.path and (
            exc.path == k or exc.path.startswith(k + ".") or k.startswith(exc.path + "."))),
            None)
        return self.error(f"{prefix}{exc.message}", (section, culprit) if culprit else
                          (section,))


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


def load_document(path: Path, root: type[BaseModel],
                  examples: Mapping[type[BaseModel], str] | None = None
                  ) -> tuple[Any, Located, str]:
    """The common prologue of every loader.

    Read a YAML file with its key lines, validate it against ``root``, and return (spec, locator,
    text).

    Raises:
        ScenarioError: unreadable or malformed files and schema violations, located.
    """
    data, lines = read_yaml(path)
    where = Located(str(path), lines, root, examples)
    spec = where.validate(root, data)
    return spec, where, path.read_text(encoding="utf-8-sig")


def _lower_first(text: str) -> str:
    """Pydantic's message with its first letter lowered; the rest (a pattern) kept as is."""
    return text[:1].lower() + text[1:]
