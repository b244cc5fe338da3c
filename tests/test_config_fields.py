"""Every config field says what it does: the configuration reference is built from these descriptions."""

from typing import get_args

from pydantic import BaseModel

from voicelab.config import ExperimentConfig


def _models_in(annotation) -> list[type[BaseModel]]:
    """The pydantic models inside a field's type (nested, in lists, tuples, dicts, unions, optionals)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def reachable_models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """``root`` and every model reachable through its fields, each once."""
    seen: list[type[BaseModel]] = []
    todo = [root]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.append(model)
        for field in model.model_fields.values():
            todo.extend(_models_in(field.annotation))
    return seen


def undescribed(root: type[BaseModel]) -> list[str]:
    return [f"{model.__name__}.{name}" for model in reachable_models(root)
            for name, field in model.model_fields.items()
            if not (field.description and field.description.strip())]


def test_the_walk_reaches_nested_listed_and_optional_models():
    names = {m.__name__ for m in reachable_models(ExperimentConfig)}
    # a section, a list item (variants), an optional (sweep), optional inside optional (echo.room),
    # a model inside a list item (variants[].pipecat), one inside an optional list (scenario)
    assert {"VADConfig", "Variant", "SweepConfig", "RoomConfig", "PipecatConfig", "ScenarioTurn",
            "StageFault"} <= names


def test_every_field_has_a_description():
    missing = undescribed(ExperimentConfig)
    assert not missing, f"{len(missing)} config fields without a description: {', '.join(missing)}"


def test_a_field_without_a_description_is_caught():
    class Section(BaseModel):
        described: int = 0  # no description

    class Root(BaseModel):
        sections: list[Section] | None = None

    assert undescribed(Root) == ["Root.sections", "Section.described"]
