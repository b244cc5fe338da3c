"""mkdocs hook: the configuration reference, generated from voicelab's pydantic models.

``docs/configuration.md`` holds the marker ``<!-- config-reference -->``; at build time
(``on_page_markdown``) it is replaced with one section per config model, walked from
:class:`voicelab.config.ExperimentConfig` through every nested model. Each section lists
the model's fields with their YAML key, type and constraints, default and description, all
read from the models themselves, so the page cannot drift from the code. A field without a
``description`` is shown as such.

Only ``voicelab.config`` is imported (pydantic and PyYAML; no model is loaded).
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from typing import Any, Literal, get_args, get_origin

from mkdocs.exceptions import PluginError
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

PAGE = "configuration.md"
MARKER = "<!-- config-reference -->"
NO_DESCRIPTION = "*no description*"

_BASIC = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
_BOUNDS = (("ge", "&ge;"), ("gt", "&gt;"), ("le", "&le;"), ("lt", "&lt;"))


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace the marker in ``configuration.md`` with the generated reference."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"{PAGE}: the marker {MARKER} is missing, so the config reference has no place")
    from voicelab.config import ExperimentConfig

    return markdown.replace(MARKER, render_reference(ExperimentConfig))


# --- walking the models -------------------------------------------------------------------


def _nested_models(annotation: Any) -> list[tuple[type[BaseModel], bool]]:
    """The pydantic models inside a field's type, each with whether it sits in a list."""
    found: list[tuple[type[BaseModel], bool]] = []

    def walk(ann: Any, in_list: bool) -> None:
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            found.append((ann, in_list))
            return
        origin = get_origin(ann)
        for arg in get_args(ann):
            walk(arg, in_list or origin in (list, tuple, set))

    walk(annotation, False)
    return found


def collect_models(root: type[BaseModel]) -> dict[type[BaseModel], list[str]]:
    """Every model reachable from ``root``, depth first in field order (a nested section right
    after its parent), with the YAML paths it sits at (``""`` for the root, ``variants[]`` for
    the items of a list)."""
    paths: dict[type[BaseModel], list[str]] = {}

    def visit(model: type[BaseModel], path: str) -> None:
        if model in paths:
            paths[model].append(path)
            return
        paths[model] = [path]
        for name, field in model.model_fields.items():
            key = field.alias or name
            for sub, in_list in _nested_models(field.annotation):
                sub_path = f"{path}.{key}" if path else key
                visit(sub, sub_path + ("[]" if in_list else ""))

    visit(root, "")
    return paths


def _anchor(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "top-level"


# --- rendering ------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """One table cell: a single line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(value: str) -> str:
    return f"`` {value} ``" if "`" in value else f"`{value}`"


def _value(value: Any) -> str:
    """A default as it would be written in YAML (flow style)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e16 else repr(value)
    if isinstance(value, (int, str)):
        return json.dumps(value) if isinstance(value, str) else str(value)
    if isinstance(value, (list, tuple, set)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _type(annotation: Any, anchors: dict[type[BaseModel], str]) -> str:
    """A field's type in words, with nested models linked to their section."""
    if annotation in _BASIC:
        return _BASIC[annotation]
    if annotation is Any:
        return "any"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{anchors[annotation]})"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " / ".join(_code(str(a) if isinstance(a, str) else _value(a)) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a, anchors) for a in args)
    if origin in (list, set):
        return f"list of {_type(args[0], anchors)}" if args else "list"
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {_type(args[0], anchors)}"
        return "[" + ", ".join(_type(a, anchors) for a in args) + "]"
    if origin is dict:
        return f"mapping of {_type(args[0], anchors)} to {_type(args[1], anchors)}" if args else "mapping"
    return _code(getattr(annotation, "__name__", str(annotation)))


def _constraints(field) -> list[str]:
    out = []
    for meta in field.metadata:
        for attr, sign in _BOUNDS:
            bound = getattr(meta, attr, None)
            if bound is not None:
                out.append(f"{sign} {_value(bound)}")
        if getattr(meta, "min_length", None) is not None:
            out.append(f"at least {meta.min_length} long")
        if getattr(meta, "max_length", None) is not None:
            out.append(f"at most {meta.max_length} long")
        if getattr(meta, "pattern", None) is not None:
            out.append(f"matches {_code(meta.pattern)}")
    return out


def _default(field, anchors: dict[type[BaseModel], str]) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return f"[its defaults](#{anchors[type(value)]})"
    return _code(_value(value))


_ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|data|attr|obj|exc):`(~?)([^`<]*?)\s*(?:<([^>]*)>)?`")
_LOCAL_PATH = re.compile(r",?\s*`{0,2}(?<![\w.])/(?:[\w.-]+/)+[\w.-]+`{0,2}")


def _docstring(model: type[BaseModel]) -> str:
    """The model's docstring as Markdown: RST literals and roles become code spans;
    absolute paths (files on one machine, not in the repository) are left out."""
    text = inspect.cleandoc(model.__doc__ or "")

    def role(match: re.Match) -> str:
        tilde, name, target = match.groups()
        if tilde and not target:
            name = name.rsplit(".", 1)[-1]
        return f"`{name}`"

    text = _ROLE.sub(role, text)
    text = text.replace("``", "`")
    text = _LOCAL_PATH.sub("", text)
    return text


def _summary(model: type[BaseModel]) -> str:
    """The first paragraph of a model's docstring, on one line."""
    return " ".join(_docstring(model).split("\n\n", 1)[0].split())


def render_model(model: type[BaseModel], paths: list[str], anchors: dict[type[BaseModel], str]) -> str:
    where = ", ".join(_code(p) for p in paths if p)
    title = f"{where} ({model.__name__})" if where else f"Top level ({model.__name__})"
    lines = [f"## {title} {{#{anchors[model]}}}", ""]
    doc = _docstring(model)
    if doc:
        lines += [doc, ""]
    # a model used at one place shows full paths; one used at several (a stage's faults) bare keys
    prefix = (paths[0] + ".") if len(paths) == 1 and paths[0] else ""
    lines += ["| key | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        key = field.alias or name
        kind = ", ".join([_type(field.annotation, anchors), *_constraints(field)])
        description = field.description or NO_DESCRIPTION
        sections = [m for m, _ in _nested_models(field.annotation)]
        if not field.description and sections:
            description += f" (the section: {_summary(sections[0])})"
        lines.append(f"| `{prefix}{key}` | {_cell(kind)} | {_cell(_default(field, anchors))} | {_cell(description)} |")
    return "\n".join(lines) + "\n"


def undescribed_fields(root: type[BaseModel]) -> list[str]:
    """``Model.field`` for every field without a description (for the maintainers)."""
    return [f"{model.__name__}.{name}" for model in collect_models(root)
            for name, field in model.model_fields.items() if not field.description]


def render_reference(root: type[BaseModel]) -> str:
    paths = collect_models(root)
    anchors = {model: _anchor(where[0]) for model, where in paths.items()}
    return "\n".join(render_model(model, where, anchors) for model, where in paths.items())
