"""Backstory personas (Anthology's method): the model writes N life stories from an open-ended prompt,
stored with their generation config; each story becomes a persona."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.engines import open_engine, resolve_model
from bench.hashing import stable_int
from bench.personas.model import Persona
from bench.results.store import atomic_write_text


@dataclass(frozen=True)
class Backstory:
    id: str
    text: str
    seed: int


def backstory_config(cfg: dict) -> dict:
    """What a backstory set depends on: the model, adapter, generation settings and seed."""
    p = cfg["persona"]
    return {"model": cfg["model"], "adapter": cfg.get("adapter"), "engine": cfg["engine"]["name"],
            "n": int(p["n"]), "prompt": p["prompt"], "temperature": float(p["temperature"]),
            "max_new_tokens": int(p["max_new_tokens"]), "seed": int(cfg["seed"])}


def backstory_dir(cfg: dict) -> Path:
    digest = hashlib.sha256(json.dumps(backstory_config(cfg), sort_keys=True, default=str).encode()).hexdigest()
    return Path(cfg["results_dir"]) / f"backstories-{cfg['model']['id']}-{digest[:10]}"


def generate_backstories(cfg: dict, progress: bool = False) -> list[Backstory]:
    """Write (or resume) the backstory set: backstories.jsonl, one line per story, plus its config.

    Each story is generated alone under its own seed, so a resumed set matches an uninterrupted one.
    """
    gen = backstory_config(cfg)
    folder = backstory_dir(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "generation.yaml", yaml.safe_dump(gen, sort_keys=False))
    path = folder / "backstories.jsonl"
    stories = [Backstory(**json.loads(line)) for line in path.read_text().splitlines()] if path.exists() else []
    if len(stories) < gen["n"]:
        spec = resolve_model(cfg["model"], cfg.get("adapter"))
        engine = open_engine(cfg, spec)
        try:
            tok = engine.tokenizer
            text = tok.apply_chat_template([{"role": "user", "content": gen["prompt"]}], add_generation_prompt=True,
                                           tokenize=False, date_string="01 Jan 2025")
            ids = tok(text, add_special_tokens=False).input_ids
            with path.open("a") as fh:
                for k in range(len(stories), gen["n"]):
                    seed = stable_int(gen["seed"], "backstory", k)
                    out = engine.generate([ids], gen["temperature"], gen["max_new_tokens"], [seed])[0].strip()
                    story = Backstory(f"backstory-{k:04d}", out, seed)
                    fh.write(json.dumps(story.__dict__) + "\n")
                    fh.flush()
                    stories.append(story)
        finally:
            engine.close()
    return stories[: gen["n"]]


def backstory_personas(cfg: dict) -> tuple[Persona, ...]:
    return tuple(Persona(s.id, "", s.text) for s in generate_backstories(cfg))
