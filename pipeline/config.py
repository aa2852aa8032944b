"""Reading the project's YAML configuration (stage parameters and label schema)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import InputError

DEFAULT_PARAMS = Path("configs/params.yaml")


class ConfigError(InputError):
    """A configuration file is missing or malformed."""


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Load one YAML mapping, with a one-line error naming the file."""
    path = Path(path)
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return content


# The parameters that name files, as (section, key).
PATH_PARAMS = (("data", "schema"), ("data", "examples"), ("train", "candidates"))


def relative_to_file(value: str, config: str | Path) -> str:
    """A path written in the configuration file `config`: a relative one is relative to its folder."""
    return os.path.normpath(Path(config).parent / value)


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """The stage parameters (configs/params.yaml). The files they name (schema, examples, candidates)
    are found relative to the parameters file's folder, whatever the current folder."""
    params = load_yaml(path)
    for section, key in PATH_PARAMS:
        if isinstance(params.get(section), dict) and params[section].get(key):
            params[section][key] = relative_to_file(params[section][key], path)
    return params


@dataclass(frozen=True)
class Columns:
    """Where the model finds its inputs in a table (the `data` parameters)."""

    text: str = "text"
    group: str = "doc"
    order: str | None = "index"
    target: str | None = None

    @classmethod
    def from_params(cls, params: dict) -> "Columns":
        """The `data` section of the stage parameters."""
        data = params["data"]
        return cls(data["text_column"], data["group_column"], data.get("order_column"), data.get("target_column"))

    def inputs(self) -> list[str]:
        """The columns a model reads, in a fixed order."""
        return [c for c in (self.text, self.group, self.order, self.target) if c]


def prediction_params(params: dict, task: str) -> dict:
    """What a model of `task` keeps of the parameters it was trained with, in their own shape, so
    that prediction needs nothing else: its columns, the segmentation of documents, its headline
    metric, and the schema's task order and consistency rules."""
    data = params["data"]
    schema = load_yaml(data["schema"])
    headline = (params.get("evaluate", {}).get("headline") or {}).get(task)
    return {
        "tasks": list(schema.get("tasks") or {}),
        "data": {key: data.get(key) for key in ("text_column", "group_column", "order_column", "target_column")},
        "segment": dict(params.get("segment") or {}),
        "evaluate": {"headline": {task: headline} if headline else {}},
        "rules": list(schema.get("rules") or []),
    }


@dataclass(frozen=True)
class Rule:
    """When `when_task` has `when_value`, `then_task` must take one of `allowed`."""

    when_task: str
    when_value: str
    then_task: str
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class Schema:
    """The label dimensions, their allowed values (in order) and consistency rules."""

    tasks: dict[str, tuple[str, ...]]
    rules: tuple[Rule, ...] = field(default=())

    @classmethod
    def load(cls, path: str | Path) -> "Schema":
        return cls.from_mapping(load_yaml(path), path)

    @classmethod
    def from_mapping(cls, raw: dict, path: str | Path) -> "Schema":
        """The schema written as `raw` (the content of a schema file); errors name `path`."""
        tasks = raw.get("tasks")
        if not isinstance(tasks, dict) or not tasks:
            raise ConfigError(f"{path}: 'tasks' must map each task to its list of labels")
        parsed = {}
        for task, labels in tasks.items():
            if not isinstance(labels, list) or len(labels) < 2 or len(set(labels)) != len(labels):
                raise ConfigError(f"{path}: task '{task}' needs a list of two or more distinct labels")
            parsed[str(task)] = tuple(str(label) for label in labels)
        rules = []
        for number, rule in enumerate(raw.get("rules") or [], start=1):
            try:
                ((when_task, when_value),) = rule["when"].items()
                ((then_task, allowed),) = rule["require"].items()
            except (KeyError, AttributeError, TypeError, ValueError):
                raise ConfigError(f"{path}: rule {number} needs one 'when' and one 'require' entry") from None
            rules.append(Rule(when_task, str(when_value), then_task, tuple(map(str, allowed))))
        return cls(parsed, tuple(rules))

    def violations(self, labels: dict[str, str]) -> list[str]:
        """Describe every rule a label record breaks."""
        return [
            f"{rule.when_task}={rule.when_value} requires {rule.then_task} in {list(rule.allowed)},"
            f" got {rule.then_task}={labels.get(rule.then_task)}"
            for rule in self.rules
            if labels.get(rule.when_task) == rule.when_value
            and labels.get(rule.then_task) not in rule.allowed
        ]
