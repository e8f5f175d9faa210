"""Backstory personas (Anthology's method): the model writes N life stories from an open-ended prompt,
stored with their generation config; each story becomes a persona.

backstories.jsonl is rewritten whole (temp file + os.replace) after each story, under the folder's lock,
so a kill leaves the stories written so far and never a torn line, and two runs sharing a set (a sweep)
write it once: the second waits, then reads it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.engines import engine_for, resolve_model
from bench.engines.rendering import PromptRenderer
from bench.hashing import stable_int
from bench.personas.model import Persona
from bench.results.atomic import atomic_write_text, folder_lock
from bench.userfiles import UserFileError, read_jsonl


@dataclass(frozen=True)
class Backstory:
    """One life story the model wrote, with the seed that wrote it: a stored story whose id and seed are not
    this set's is refused rather than mixed in."""
    id: str
    text: str
    seed: int


def backstory_config(cfg: dict) -> dict:
    """What a backstory set depends on: the model, adapter, generation settings and seed."""
    p = cfg["persona"]
    return {"model": cfg["model"], "adapter": cfg.get("adapter"), "engine": cfg["engine"]["name"],
            "n": int(p["n"]), "prompt": p["prompt"], "temperature": float(p["temperature"]),
            "max_new_tokens": int(p["max_new_tokens"]), "seed": int(cfg["seed"]),
            **({"prompt_format": fmt} if (fmt := cfg["prompt"].get("format", "auto")) != "auto" else {})}


def backstory_dir(cfg: dict) -> Path:
    """The folder of a backstory set, named by model and a hash of its generation config: runs asking for the
    same set share it, a changed config gets its own."""
    digest = hashlib.sha256(json.dumps(backstory_config(cfg), sort_keys=True, default=str).encode()).hexdigest()
    return Path(cfg["results_dir"]) / f"backstories-{cfg['model']['id']}-{digest[:10]}"


def read_backstories(path: Path, base_seed: int) -> list[Backstory]:
    """The stories written so far; a torn or foreign line is named by file and line, not parsed on."""
    if not path.exists():
        return []
    stories = []
    for k, row in enumerate(read_jsonl(path)):
        want = Backstory(f"backstory-{k:04d}", "", stable_int(base_seed, "backstory", k))
        if set(row) != {"id", "text", "seed"} or not isinstance(row["text"], str):
            raise UserFileError(f"{path}: story {k + 1}: expected the keys id, text, seed, got {sorted(row)}")
        if (row["id"], row["seed"]) != (want.id, want.seed):
            raise UserFileError(f"{path}: story {k + 1} is {row['id']!r} with seed {row['seed']!r}, not "
                                f"{want.id!r} with seed {want.seed}: not this set's story; move the file away "
                                "to write the set again")
        stories.append(Backstory(row["id"], row["text"], row["seed"]))
    return stories


def generate_backstories(cfg: dict, progress: bool = False) -> list[Backstory]:
    """Write (or resume) the backstory set: backstories.jsonl, one line per story, plus its config.

    Each story is generated alone under its own seed, so a resumed set matches an uninterrupted one.
    """
    gen = backstory_config(cfg)
    folder = backstory_dir(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "backstories.jsonl"
    with folder_lock(folder, wait_s=None):
        atomic_write_text(folder / "generation.yaml", yaml.safe_dump(gen, sort_keys=False))
        stories = read_backstories(path, gen["seed"])
        if len(stories) < gen["n"]:
            spec = resolve_model(cfg["model"], cfg.get("adapter"))
            with engine_for(cfg, spec) as engine:
                renderer = PromptRenderer.from_config(engine.tokenizer, cfg["prompt"], answer_prefix="")
                _, ids = renderer.render([{"role": "user", "content": gen["prompt"]}])
                for k in range(len(stories), gen["n"]):
                    seed = stable_int(gen["seed"], "backstory", k)
                    out = engine.generate([ids], gen["temperature"], gen["max_new_tokens"], [seed])[0].strip()
                    stories.append(Backstory(f"backstory-{k:04d}", out, seed))
                    atomic_write_text(path, "".join(json.dumps(s.__dict__) + "\n" for s in stories))
    return stories[: gen["n"]]


def backstory_personas(cfg: dict) -> tuple[Persona, ...]:
    """The backstory set as personas (each story the system text), its missing stories written first."""
    return tuple(Persona(s.id, "", s.text) for s in generate_backstories(cfg))
