"""The strict base of every config model: unknown keys and bad values are errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A pydantic model that forbids unknown keys and validates assignments."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
