"""Which Great Expectations checks block publication, and their parameters.

Read from ``warehouse_billing/quality/config.yaml`` (or the file ``$BILLING_QUALITY_CONFIG`` names).
Every check of ``warehouse_billing.quality.suites`` must be listed with ``blocking: true|false``; a typo in
a check or parameter name is an error, not a silently ignored setting.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from warehouse_billing.quality.suites import SUITES, SUITES_BY_NAME, Suite, validate_params

DEFAULT_CONFIG_FILE = Path(__file__).with_name("config.yaml")
CONFIG_ENV = "BILLING_QUALITY_CONFIG"


@dataclass(frozen=True)
class CheckSettings:
    name: str
    blocking: bool
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def suite(self) -> Suite:
        return SUITES_BY_NAME[self.name]

    @property
    def mode(self) -> str:
        return "blocking" if self.blocking else "warning"


@dataclass(frozen=True)
class QualityConfig:
    checks: tuple[CheckSettings, ...]
    source: str = "<code>"

    def __iter__(self) -> Iterator[CheckSettings]:
        return iter(self.checks)

    def __getitem__(self, name: str) -> CheckSettings:
        for settings in self.checks:
            if settings.name == name:
                return settings
        raise KeyError(name)

    def names(self) -> list[str]:
        return [settings.name for settings in self.checks]

    def with_check(self, name: str, *, blocking: bool | None = None, **params: Any) -> QualityConfig:
        """A copy with one check's mode or parameters changed (validated like the file)."""
        current = self[name]
        raw = {"blocking": current.blocking if blocking is None else blocking, **current.params, **params}
        updated = _check_settings(name, raw, self.source)
        return replace(self, checks=tuple(updated if c.name == name else c for c in self.checks))


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


def load_quality_config(path: Path | str | None = None) -> QualityConfig:
    path = Path(path) if path else config_path()
    with open(path, encoding="utf-8") as file:
        document = yaml.safe_load(file) or {}
    return parse_quality_config(document, source=str(path))


def parse_quality_config(document: Mapping[str, Any], source: str = "<code>") -> QualityConfig:
    checks = document.get("checks")
    if not isinstance(checks, Mapping):
        raise ValueError(f"{source}: expected a mapping `checks:` of check name -> settings")
    unknown = sorted(set(checks) - set(SUITES_BY_NAME))
    if unknown:
        raise ValueError(f"{source}: unknown checks {unknown}; known: {sorted(SUITES_BY_NAME)}")
    missing = [suite.name for suite in SUITES if suite.name not in checks]
    if missing:
        raise ValueError(f"{source}: every check needs `blocking: true|false`; not listed: {missing}")
    return QualityConfig(
        checks=tuple(_check_settings(suite.name, checks[suite.name], source) for suite in SUITES),
        source=source,
    )


def _check_settings(name: str, raw: Any, source: str) -> CheckSettings:
    suite = SUITES_BY_NAME[name]
    if not isinstance(raw, Mapping) or not isinstance(raw.get("blocking"), bool):
        raise ValueError(f"{source}: {name} needs `blocking: true` or `blocking: false`")
    params = {key: value for key, value in raw.items() if key != "blocking"}
    unknown = sorted(set(params) - set(suite.defaults))
    if unknown:
        raise ValueError(
            f"{source}: {name} has no parameter {unknown}; its parameters: {sorted(suite.defaults)}"
        )
    merged = {**suite.defaults, **params}
    for key, value in merged.items():
        merged[key] = _coerce(name, key, value, suite.defaults[key], source)
    validate_params(suite, merged)
    return CheckSettings(name=name, blocking=raw["blocking"], params=merged)


def _coerce(name: str, key: str, value: Any, default: Any, source: str) -> Any:
    """The value in the default's type (an int where a float is expected is fine)."""
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is list and isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
        return value
    raise ValueError(f"{source}: {name}.{key} must be a {expected.__name__}, got {value!r}")
