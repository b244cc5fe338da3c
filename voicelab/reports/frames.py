"""Row and column helpers shared by both reports' tables and figures.

Both the run report's turns table (:func:`voicelab.measure.metrics.turns_table`) and
a sweep's ``results.parquet`` keep their warm-up rows; every number and plot of the
reports goes through :func:`live_rows` to leave them out.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["V2V", "has_values", "live_rows", "numeric", "unique_in_order"]

V2V = "voice_to_voice_latency_ms"
"""The column of the headline latency."""


def live_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Non-warm-up rows (all rows if there is no ``warmup`` column; a missing flag is live)."""
    if df.empty or "warmup" not in df:
        return df
    return df[~df["warmup"].fillna(False).astype(bool)]


def unique_in_order(df: pd.DataFrame, column: str) -> list:
    """The values of ``column`` in order of first appearance ([] without the column)."""
    return list(pd.unique(df[column])) if column in df else []


def numeric(s: pd.Series) -> pd.Series:
    """``s`` as floats; what is not a number becomes NaN."""
    return pd.to_numeric(s, errors="coerce").astype(float)


def has_values(df: pd.DataFrame, col: str) -> bool:
    """``df`` has ``col`` with at least one number in it."""
    return col in df and pd.to_numeric(df[col], errors="coerce").notna().any()
