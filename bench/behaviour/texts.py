"""Participants write texts: each plan participant answers each writing prompt `n` times, in its persona.

A writing prompt is data from the config (shown as written, never filled as a template). Jobs are a
fixed, deterministic list (participant x prompt x copy) split into units of `batch_size`, each written
as one part of the run folder's `texts/` store, so a killed run resumes with the same seeds and so the
same texts. Each copy's seed derives from the participant's seed, the prompt id and the copy number.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa
from tqdm.auto import tqdm

from bench.administration.plan import Participant, Plan
from bench.engines.rendering import PromptRenderer
from bench.engines.base import Engine
from bench.errors import ConfigError
from bench.hashing import stable_int
from bench.results.store import RunStore

TEXT_SCHEMA = pa.schema([
    ("participant_id", pa.string()), ("persona_id", pa.string()), ("persona_target", pa.string()),
    ("template_id", pa.string()), ("option_order", pa.string()), ("temperature", pa.float64()),
    ("repetition", pa.int64()), ("participant_seed", pa.int64()),
    ("text_id", pa.string()), ("prompt_id", pa.string()), ("copy", pa.int64()),
    ("text", pa.string()), ("text_sha256", pa.string()), ("n_words", pa.int64()), ("invalid", pa.bool_()),
    ("generation_seed", pa.int64()), ("generation_temperature", pa.float64()), ("max_new_tokens", pa.int64()),
    ("prompt_tokens", pa.int64()), ("model_id", pa.string()), ("model_sha256", pa.string()),
])
TEXT_KEY = ("participant_id", "text_id")


def write_missing_units(store: RunStore, units: list, run_unit, desc: str, progress: bool) -> None:
    """Each unit the store has no part for, run and written as its part: a resumed run redoes only those."""
    done = store.done_units()
    todo = [(u, idx) for u, idx in enumerate(units) if u not in done]
    bar = tqdm(total=len(units), initial=len(units) - len(todo), desc=desc, unit="batch", disable=not progress)
    for u, idx in todo:
        store.write_part(u, run_unit(idx))
        bar.update(1)
    bar.close()


@dataclass(frozen=True)
class WritingPrompt:
    """What participants are asked to write, by id (from the config, shown as written)."""
    id: str
    text: str


@dataclass(frozen=True)
class TextJob:
    """One text to generate: a participant's `copy`-th answer to a writing prompt."""
    participant: Participant
    prompt: WritingPrompt
    copy: int

    @property
    def text_id(self) -> str:
        """The text's id within its participant: prompt id and copy number."""
        return f"{self.prompt.id}#{self.copy}"

    @property
    def seed(self) -> int:
        """The generation seed of this text, from the participant's seed, so a rerun writes the same text."""
        return stable_int(self.participant.seed, "behaviour-text", self.prompt.id, self.copy)


def writing_prompts(entries, field: str = "behaviour.prompts") -> tuple[WritingPrompt, ...]:
    """The config's prompt list as WritingPrompts; a missing id or text, or a repeated id, is named."""
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{field}: must be a non-empty list of {{id, text}} entries")
    out, seen = [], set()
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != {"id", "text"}:
            raise ConfigError(f"{field}[{n}]={entry!r}: each prompt is {{id: <name>, text: <what to write>}}")
        pid, text = entry["id"], entry["text"]
        if not isinstance(pid, str) or not pid.strip() or "#" in pid or "|" in pid:
            raise ConfigError(f"{field}[{n}].id={pid!r}: must be a non-empty name without '#' or '|'")
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{field}[{n}].text={text!r}: must be a non-empty text")
        if pid in seen:
            raise ConfigError(f"{field}[{n}].id={pid}: listed more than once")
        seen.add(pid)
        out.append(WritingPrompt(pid, text))
    return tuple(out)


def sha256_text(text: str) -> str:
    """The text's sha256, stored beside it so raters and readers can tell texts apart and check them."""
    return hashlib.sha256(text.encode()).hexdigest()


class Writer:
    """Generates every participant's texts, unit by unit, into a RunStore (resumable)."""

    def __init__(self, plan: Plan, prompts: tuple[WritingPrompt, ...], copies: int, renderer: PromptRenderer,
                 max_new_tokens: int, temperature: float | None, batch_size: int, model: dict):
        self.plan, self.prompts, self.copies, self.renderer = plan, prompts, copies, renderer
        self.max_new_tokens, self.temperature, self.batch_size = max_new_tokens, temperature, batch_size
        self.model = model  # {"id", "sha256"} of the writing model
        self.jobs = [TextJob(p, w, k) for p in plan.participants for w in prompts for k in range(copies)]

    def units(self) -> list[list[int]]:
        """The writing jobs split into batches of `batch_size`: a store's parts, fixed for resumes."""
        b = self.batch_size
        return [list(range(s, min(s + b, len(self.jobs)))) for s in range(0, len(self.jobs), b)]

    def unit_keys(self) -> dict[int, set[tuple]]:
        """The (participant, text id) rows each unit's part must hold: how a resumed run tells its parts from
        stray ones."""
        return {u: {(self.jobs[j].participant.id, self.jobs[j].text_id) for j in idx}
                for u, idx in enumerate(self.units())}

    def messages(self, job: TextJob) -> list[dict]:
        """The persona (system turn, if any) and the writing prompt as the user's turn."""
        persona = job.participant.persona.text_for(None)
        return ([{"role": "system", "content": persona}] if persona else []) + \
            [{"role": "user", "content": job.prompt.text}]

    def temperature_of(self, job: TextJob) -> float:
        """The temperature a job writes at: the behaviour config's own, else the participant's."""
        return job.participant.temperature if self.temperature is None else float(self.temperature)

    def longest_prompt(self) -> int:
        """Token length of the longest writing prompt, checked against the model's context before any model work."""
        return max(len(self.renderer.render(self.messages(j))[1]) for j in self.jobs)

    def run(self, engine: Engine, store: RunStore, progress: bool = False) -> None:
        """Write every unit the store has no part for yet (resumable), with `engine` (the writing model's)."""
        write_missing_units(store, self.units(), lambda idx: self.run_unit(engine, idx), "writing", progress)

    def run_unit(self, engine: Engine, idx: list[int]) -> pa.Table:
        """One unit's texts, generated per temperature with each job's own seed, as rows."""
        rendered = {j: self.renderer.render(self.messages(self.jobs[j]))[1] for j in idx}
        by_temp: dict[float, list[int]] = defaultdict(list)
        for j in idx:
            by_temp[self.temperature_of(self.jobs[j])].append(j)
        texts: dict[int, str] = {}
        for temp, js in sorted(by_temp.items()):
            out = engine.generate([rendered[j] for j in js], temp, self.max_new_tokens,
                                       [self.jobs[j].seed for j in js])
            texts.update(zip(js, out))
        rows = []
        for j in idx:
            job, p, text = self.jobs[j], self.jobs[j].participant, texts[j].strip()
            rows.append({
                "participant_id": p.id, "persona_id": p.persona.id, "persona_target": p.persona.target,
                "template_id": p.template.id, "option_order": p.option_order, "temperature": p.temperature,
                "repetition": p.repetition, "participant_seed": p.seed,
                "text_id": job.text_id, "prompt_id": job.prompt.id, "copy": job.copy,
                "text": text, "text_sha256": sha256_text(text), "n_words": len(text.split()),
                "invalid": not text,  # an empty text is kept and marked, never dropped
                "generation_seed": job.seed, "generation_temperature": self.temperature_of(job),
                "max_new_tokens": self.max_new_tokens, "prompt_tokens": len(rendered[j]),
                "model_id": self.model["id"], "model_sha256": self.model["sha256"],
            })
        return pa.Table.from_pylist(rows, schema=TEXT_SCHEMA)
