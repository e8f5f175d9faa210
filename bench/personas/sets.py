"""Every kind of persona set, built from its conf/persona config: one dispatch for the run pipeline.

Kinds: an explicit list (`personas`), roles x trait poles (`roles` + `traits`), built from a person's
writing (`kind: rag | profile`), one per sampled human respondent (`set: demographic`), or life stories
the model writes itself (`set: backstory`, which needs the engine).
"""

from __future__ import annotations

import itertools

from bench.instruments import Inventory
from bench.personas.model import Persona, PersonaError


def build_personas(cfg: dict, inventory: Inventory) -> tuple[Persona, ...]:
    """The run's personas: population personas for `persona=demographic|backstory`, else the set itself."""
    kind = cfg["persona"].get("set")
    if kind == "backstory":
        from bench.personas.backstory import backstory_personas

        return backstory_personas(cfg)
    if kind == "demographic":
        from bench.personas.demographic import demographic_personas

        return demographic_personas(cfg)
    return expand_personas(cfg["persona"], inventory)


def expand_personas(cfg, inventory: Inventory | None = None) -> tuple[Persona, ...]:
    """Personas from a conf/persona group: an explicit list, roles x trait poles, or built from a
    person's writing (`kind: rag | profile`, which needs the inventory for per-item passages)."""
    if cfg.get("kind") is not None:
        from bench.personas.text import corpus_personas

        if inventory is None:
            raise PersonaError(f"persona set '{cfg.get('set')}': a corpus persona needs the inventory")
        return corpus_personas(cfg, inventory)
    if cfg.get("personas") is not None:
        return tuple(Persona(str(p["id"]), str(p.get("target") or ""), str(p.get("text") or ""))
                     for p in cfg["personas"])
    if cfg.get("roles") is not None and cfg.get("traits") is not None:
        return tuple(
            Persona(f"{r['id']}/{t['id']}", str(t.get("target") or ""), f"{r['text']} {t['text']}")
            for r, t in itertools.product(cfg["roles"], cfg["traits"])
        )
    raise PersonaError(f"persona set '{cfg.get('set')}': needs 'personas' or 'roles' + 'traits'")
