"""What is wrong with an engine's options, said as a configuration error names it."""

from __future__ import annotations

from pydantic import ValidationError


def invalid_options(engine: str, error: ValidationError) -> str:
    """Each problem as `where: what`, an unknown key called so."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "options"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown option"
        problems.append(f"{where}: {message}")
    return f"invalid {engine} engine options: " + "; ".join(problems)
