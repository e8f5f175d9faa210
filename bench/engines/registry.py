"""The engine registry: each backend registers itself, with its options, in its own file.

An engine is `bench/engines/<name>_engine.py` holding a subclass of `Engine` decorated with
`@register_engine("<name>", options={...})`, plus `bench/conf/engine/<name>.yaml`. The file name is the
registry's lazy entry (lm-evaluation-harness keeps "module:Class" strings for the same reason): the names
are known without importing anything, and an engine's module is imported only when its class or options
are asked for. Engine modules import their heavy libraries (torch, vLLM, openai) inside functions, so
reading options costs nothing.

Each option is declared once, as data (`Option`): the config check (`bench.config`) and `make_engine`
apply the same rule, so a value is refused with the same words whichever way it arrives.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.errors import BenchError
from bench.resources import PACKAGE

SUFFIX = "_engine"


class EngineError(BenchError):
    """An unknown engine, or an engine option it does not take or a value it cannot use."""


@dataclass(frozen=True)
class Option:
    """One setting an engine takes from its conf/engine/<name>.yaml: type, range and meaning.

    `kind` is bool, int, number, text or choice; `optional` lets null mean "the engine's default";
    `rule` is a further check returning the problem (or None); `hidden` masks a value in messages (a
    secret must never be echoed); `shown` renders a value for a message (a URL without credentials); `needed` says what a null misses; `required`: `make_engine` refuses to open without it.
    """
    kind: str
    doc: str
    optional: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple = ()
    rule: Callable[[Any], str | None] | None = None
    hidden: bool = False
    shown: Callable[[Any], str] | None = None
    needed: str = "must be set"
    required: bool = False

    def problem(self, value: Any) -> str | None:
        """Why `value` cannot be this option's value, in the words of a config message; None when it can."""
        tail = " (or null)" if self.optional else ""
        if value is None:
            return None if self.optional else self.needed
        if self.kind == "bool" and not isinstance(value, bool):
            return "must be true or false" + tail
        if self.kind == "text" and not (isinstance(value, str) and value.strip()):
            return "must be a non-empty string" + tail
        if self.kind == "choice" and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}" + tail
        if self.kind in ("bool", "text", "choice"):
            return self.rule(value) if self.rule else None
        if self.kind == "int" and (not isinstance(value, int) or isinstance(value, bool)):
            return "must be an integer" + tail
        if self.kind == "number" and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                      or not math.isfinite(value)):
            return "must be a finite number"
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return f"must be {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None and value > self.high:
            return f"must be <= {self.high:g}"
        return self.rule(value) if self.rule else None

    def show(self, value: Any) -> Any:
        """The value as a message may print it."""
        if self.hidden and isinstance(value, str):
            return "<hidden>"
        return self.shown(value) if self.shown else value


@dataclass(frozen=True)
class EngineEntry:
    """A registered engine: its class and the options its conf file may set."""
    name: str
    cls: type
    options: Mapping[str, Option] = field(default_factory=dict)
    # options that are each valid but not together (tensor x pipeline ranks over the visible devices):
    # (options) -> [(option, value, problem)]
    together: Callable[[Mapping[str, Any]], list[tuple[str, Any, str]]] | None = None


REGISTERED: dict[str, EngineEntry] = {}


def register_engine(name: str, options: Mapping[str, Option] | None = None,
                    together: Callable[[Mapping[str, Any]], list[tuple[str, Any, str]]] | None = None
                    ) -> Callable[[type], type]:
    """Class decorator: `@register_engine("vllm", options={...})` in `bench/engines/vllm_engine.py`;
    `together` checks options that are each valid but may not be combined."""
    def add(cls: type) -> type:
        from bench.engines.base import Engine

        if not (isinstance(cls, type) and issubclass(cls, Engine)):
            raise TypeError(f"engine {name!r}: {cls!r} is not a subclass of bench.engines.base.Engine")
        if f"{name}{SUFFIX}" != cls.__module__.rsplit(".", 1)[-1]:
            raise TypeError(f"engine {name!r} must live in bench/engines/{name}{SUFFIX}.py (the registry finds it "
                            f"by its file), not in {cls.__module__}")
        cls.name = name
        REGISTERED[name] = EngineEntry(name, cls, dict(options or {}), together)
        return cls

    return add


def engine_names() -> tuple[str, ...]:
    """Every engine, by the files that hold them (nothing imported)."""
    folder = PACKAGE / "engines"
    return tuple(sorted(p.stem.removesuffix(SUFFIX) for p in folder.glob(f"*{SUFFIX}.py")))


def engine_entry(name: str) -> EngineEntry:
    """The registered engine `name`, importing its module on first use."""
    if name not in engine_names():
        raise EngineError(f"engine '{name}' is unknown; choose one of: {', '.join(engine_names())}")
    if name not in REGISTERED:
        importlib.import_module(f"bench.engines.{name}{SUFFIX}")
    if name not in REGISTERED:
        raise EngineError(f"bench/engines/{name}{SUFFIX}.py registers no engine (@register_engine({name!r}))")
    return REGISTERED[name]


def option_problems(name: str, options: Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """(option, value as shown, problem) for each option `name` does not take or cannot use."""
    declared = engine_entry(name).options
    out = [(key, None, option.needed) for key, option in declared.items() if option.required and key not in options]
    for key, value in options.items():
        if key not in declared:
            out.append((key, value, f"engine {name} takes no such option; its options: {', '.join(sorted(declared))}"))
            continue
        problem = declared[key].problem(value)
        if problem:
            out.append((key, declared[key].show(value), problem))
    together = engine_entry(name).together
    if not out and together is not None:
        out.extend(together(options))
    return out
