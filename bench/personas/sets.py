"""Every kind of persona set, built from its conf/persona config: one dispatch for the run pipeline.

Kinds: an explicit list (`personas`), roles x trait poles (`roles` + `traits`), built from a person's
writing (`kind: rag | profile`), one per sampled human respondent (`set: demographic`), or life stories
the model writes itself (`set: backstory`, which needs the engine). `persona.ids` picks a subset of
any of them, by id, in the order given. A user's own file (`set: file`, `bench.personas.file`) may also be
sampled: `persona.n` personas drawn with `persona.seed`.
"""

from __future__ import annotations

import itertools

from bench.instruments import Inventory
from bench.personas.model import Persona, PersonaError


# Anthology's ways of conditioning a population: method -> (persona config file, overrides)
CONDITIONING_METHODS = {
    "none": ("none", {}),
    "qa": ("demographic", {"style": "qa"}),
    "bio": ("demographic", {"style": "bio"}),
    "portray": ("demographic", {"style": "portray"}),
    "backstory": ("backstory", {}),
}


def build_personas(cfg: dict, inventory: Inventory) -> tuple[Persona, ...]:
    """The run's personas: population personas for `persona=demographic|backstory`, else the set itself;
    only those named in `persona.ids` when it is given."""
    kind = cfg["persona"].get("set")
    if kind == "backstory":
        from bench.personas.backstory import backstory_personas

        personas = backstory_personas(cfg)
    elif kind == "demographic":
        from bench.personas.demographic import demographic_personas

        personas = demographic_personas(cfg)
    elif kind == FILE_SET:
        from bench.personas.file import file_personas

        personas = file_personas(cfg["persona"])
        personas = sample_personas(personas, cfg["persona"].get("n"), cfg["persona"].get("seed", 0),
                                   cfg["persona"]["path"])
    else:
        personas = expand_personas(cfg["persona"], inventory)
    return select_personas(personas, cfg["persona"].get("ids"), kind)


FILE_SET = "file"  # `persona=file persona.path=...`: a user's own file of personas (bench.personas.file)


def sample_personas(personas: tuple[Persona, ...], n, seed, source) -> tuple[Persona, ...]:
    """`n` of the personas drawn without replacement (all of them for None), kept in the file's order.

    Each persona's place in the draw is a hash of the seed and its id, so the same seed gives the same
    personas whatever the order of the file's rows, and adding rows changes the sample only where a new
    persona comes before one drawn before."""
    if n is None:
        return personas
    from bench.hashing import stable_int

    if n > len(personas):
        raise PersonaError(f"persona.n={n}: more than the {len(personas)} personas of {source}; give at most "
                           f"{len(personas)}, or persona.n=null for all of them")
    drawn = {p.id for p in sorted(personas, key=lambda p: stable_int(seed, "persona-sample", p.id))[:n]}
    return tuple(p for p in personas if p.id in drawn)


MAX_LISTED = 30  # ids named in an unknown-id message (a population set has hundreds)


def select_personas(personas: tuple[Persona, ...], ids, set_name=None) -> tuple[Persona, ...]:
    """The personas named in `ids`, in that order (all of them for None): a quick run on a few."""
    if ids is None:
        return personas
    wanted = [ids] if isinstance(ids, (str, int)) and not isinstance(ids, bool) else ids
    if not isinstance(wanted, (list, tuple)) or not wanted:
        raise PersonaError(f"persona.ids: {ids!r} must be a non-empty list of persona ids (or null for all)")
    by_id = {p.id: p for p in personas}
    wanted = [str(w) for w in wanted]
    repeated = sorted({w for w in wanted if wanted.count(w) > 1})
    if repeated:
        raise PersonaError(f"persona.ids: {', '.join(repeated)} listed more than once")
    unknown = [w for w in wanted if w not in by_id]
    if unknown:
        names = list(by_id)
        shown = ", ".join(names[:MAX_LISTED]) + (f", ... ({len(names)} in all)" if len(names) > MAX_LISTED else "")
        raise PersonaError(f"persona.ids: unknown id(s) {', '.join(map(repr, unknown))} in persona set "
                           f"'{set_name}'; available: {shown or '(none)'}")
    return tuple(by_id[w] for w in wanted)


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
