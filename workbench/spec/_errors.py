"""The one error type a bad spec raises, so every caller (CLI, notebook, app) reports it the same way."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def format_location(loc: Sequence[str | int]) -> str:
    """Render a pydantic-style location tuple as ``features.numeric[3]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(spec)"


class SpecError(ValueError):
    """A model spec that cannot be used, with every problem named by its key.

    ``problems`` holds ``(key, message)`` pairs so tools can show them one per line.
    """

    def __init__(self, source: str, problems: Iterable[tuple[str, str]], heading: str | None = None) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  {key}: {message}" for key, message in self.problems)
        super().__init__(f"{heading or f'spec {source} is invalid'}:\n{lines}")
