"""Checks that a diffusers-format weights directory is complete before any model is loaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reelserve.engines.base import EngineError

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
_TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "tokenizer.model", "vocab.json", "vocab.txt")


def _component_problems(folder: Path, library: str, class_name: str) -> list[str]:
    """Files missing from one component folder, as paths relative to the weights directory."""
    name = folder.name
    if not folder.is_dir():
        return [f"{name}/ (the {class_name} component)"]
    present = {entry.name for entry in folder.iterdir()}
    if class_name.endswith("Scheduler") or "Scheduler" in class_name:
        return [] if "scheduler_config.json" in present else [f"{name}/scheduler_config.json"]
    if "Tokenizer" in class_name:
        if not present.intersection(_TOKENIZER_FILES):
            return [f"{name}/ one of {', '.join(_TOKENIZER_FILES)}"]
        return []
    if "Processor" in class_name or "FeatureExtractor" in class_name:
        configs = {"preprocessor_config.json", "processor_config.json"}
        return [] if present & configs else [f"{name}/preprocessor_config.json"]
    problems = [] if "config.json" in present else [f"{name}/config.json"]
    indexes = [entry for entry in present if entry.endswith(".index.json")]
    if indexes:
        for index_name in indexes:
            problems += _missing_shards(folder, index_name)
    elif not any(entry.endswith(_WEIGHT_SUFFIXES) for entry in present):
        problems.append(f"{name}/ weights (*.safetensors)")
    return problems


def _missing_shards(folder: Path, index_name: str) -> list[str]:
    try:
        weight_map: dict[str, str] = json.loads((folder / index_name).read_text())["weight_map"]
    except (OSError, ValueError, KeyError) as error:
        return [f"{folder.name}/{index_name} (unreadable: {error})"]
    return [f"{folder.name}/{shard}" for shard in sorted(set(weight_map.values())) if not (folder / shard).is_file()]


def read_model_index(weights: Path) -> dict[str, Any]:
    index_path = weights / "model_index.json"
    if not weights.is_dir():
        raise EngineError(
            f"weights directory {weights} does not exist; expected a diffusers-format pipeline directory "
            "(model_index.json and one folder per component), e.g. from "
            "`hf download <repo> --local-dir <dir>`"
        )
    try:
        index = json.loads(index_path.read_text())
    except FileNotFoundError:
        raise EngineError(
            f"weights directory {weights} has no model_index.json; expected a diffusers-format pipeline "
            "directory (model_index.json and one folder per component)"
        ) from None
    except (OSError, ValueError) as error:
        raise EngineError(f"{index_path} is not readable JSON: {error}") from None
    if not isinstance(index, dict):
        raise EngineError(f"{index_path} is not a JSON object")
    return index


def check_weights_dir(
    weights: Path, accepted_classes: frozenset[str], required_components: frozenset[str], family: str
) -> dict[str, Any]:
    """Raise EngineError naming the directory and every missing file; return model_index.json."""
    index = read_model_index(weights)
    class_name = index.get("_class_name")
    if class_name not in accepted_classes:
        raise EngineError(
            f"{weights}/model_index.json declares {class_name!r}, which is not a {family} pipeline "
            f"(expected one of {', '.join(sorted(accepted_classes))})"
        )
    components = {
        name: value
        for name, value in index.items()
        if not name.startswith("_") and isinstance(value, list) and len(value) == 2 and value[0] and value[1]
    }
    missing = [
        f"{name}/ (component listed as null or absent in model_index.json)"
        for name in sorted(required_components - components.keys())
    ]
    for name, (library, component_class) in sorted(components.items()):
        missing += _component_problems(weights / name, library, component_class)
    if missing:
        expected = ", ".join(f"{name}/" for name in sorted(components.keys() | required_components))
        raise EngineError(
            f"weights directory {weights} is incomplete for {family}: missing {'; '.join(missing)}. "
            f"Expected model_index.json and the component folders {expected}, each with its config "
            "and weight files"
        )
    return index
