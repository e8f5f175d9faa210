"""Give the plan to an engine, unit by unit, and turn what comes back into response rows.

Logprob mode does one forward pass per (condition, item) and fans it out to every temperature and
repetition of that condition (in conversation mode, one per participant and item, since earlier
answers differ); sample mode generates once per participant and item and parses.
Units are a fixed, deterministic split of the plan, so a resumed run recomputes exactly the
units that are missing, with the same batches and so the same numbers (to float error, ~1e-6, where
the engine serves a conversation from a cache it kept, or not, from an earlier unit).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from tqdm.auto import tqdm

from bench.administration.distributions import draw_answer, label_mass, tempered
from bench.engines.base import Engine
from bench.instruments import Item
from bench.administration.parse import parse_answer
from bench.administration.plan import Participant, Plan
from bench.hashing import stable_int
from bench.results.schema import prompt_hash, prompt_table, response_table
from bench.administration.prompts import messages_for, question_text
from bench.engines.rendering import PromptRenderer
from bench.results.store import RunStore

SCORING_MODES = ("logprob", "sample")


@dataclass(frozen=True)
class Unit:
    """One batch of the plan, the grain a run writes and resumes by (one part file each)."""
    index: int
    item_index: int | None  # conversation units cover one item for a chunk of participants
    keys: tuple  # single: (condition index, item index) pairs; conversation: participant indices


class Administrator:
    """Asks a plan's questions and turns the answers into response rows. It holds the plan, how prompts are
    rendered and scored, and the fixed split into units; the engine is passed to the calls that ask it, so
    one Administrator can plan, render and count before an engine is open (dry runs, resumes)."""

    def __init__(self, plan: Plan, renderer: PromptRenderer, scoring: str,
                 batch_size: int = 16, max_new_tokens: int = 12, constants: dict | None = None,
                 group_by_persona: bool = False, keep_prompt_texts: bool = True):
        self.plan, self.renderer = plan, renderer
        self.scoring, self.batch_size, self.max_new_tokens = scoring, batch_size, max_new_tokens
        self.constants = constants or {}
        # Personas written from a person's corpus carry long texts: a batch holding one person's prompts only
        # shares their prefix (and keeps one author's work together); other runs keep their batches as before.
        self.group_by_persona = group_by_persona
        # Prompts that quote a person's corpus (rag/profile personas) are never written: the corpus stays out
        # of results (bench/clone/privacy.py); their hashes still identify them.
        self.keep_prompt_texts = keep_prompt_texts
        self._label_ids: dict[int, list[int]] = {}
        by_condition: dict[tuple, list[Participant]] = defaultdict(list)
        for p in plan.participants:
            by_condition[p.condition].append(p)
        self.conditions = list(by_condition.values())

    def label_ids(self, item_index: int) -> list[int]:
        """The token ids of the answer labels "1".."n" for an item's scale, cached per option count: what the
        label log-probs are read at."""
        n = len(self.plan.inventory.scale_of(self.plan.items[item_index]).values)
        if n not in self._label_ids:
            self._label_ids[n] = self.renderer.labels_for(n)
        return self._label_ids[n]

    def label_logprobs(self, engine: Engine, prompts: list[list[int]], item_indices: list[int],
                       prefix_groups: list | None = None, keep_rows: bool = False) -> list[np.ndarray]:
        """Label log-probs per prompt; questions with different option counts go in separate calls, and
        so do prompts of different prefix groups (persona x template; option orders share everything up
        to the options): each call then shares one long prefix that the engine computes once and can keep
        for the group's next batch. `keep_rows` (conversation mode): each prompt grows into its
        participant's next one, so the engine may keep every row's cache for the next item."""
        out: list[np.ndarray | None] = [None] * len(prompts)
        groups: dict[tuple, list[int]] = defaultdict(list)
        for j, i in enumerate(item_indices):
            groups[(len(self.label_ids(i)), None if prefix_groups is None else prefix_groups[j])].append(j)
        for idx in groups.values():
            logp = engine.label_logprobs([prompts[j] for j in idx], self.label_ids(item_indices[idx[0]]),
                                         **({"keep_rows": True} if keep_rows else {}))
            for j, lp in zip(idx, logp):
                out[j] = lp
        return out

    @staticmethod
    def prefix_group(p: Participant) -> tuple[str, str]:
        """What the start of a participant's prompts depends on: persona and template (not the option order)."""
        return (p.persona.id, p.template.id)

    # -- planning -------------------------------------------------------------------------
    def units(self) -> list[Unit]:
        """The plan's fixed split into units (batches): single mode by (condition, item), conversation mode by
        item and chunk of participants; the same split on every resume."""
        n_items, b = len(self.plan.items), self.batch_size
        if self.plan.administration == "single":
            keys = [(c, i) for c in range(len(self.conditions)) for i in range(n_items)]
            runs = self.by_persona(keys, lambda key: self.conditions[key[0]][0].persona.id)
            chunks = [run[s:s + b] for run in runs for s in range(0, len(run), b)]
            return [Unit(k, None, tuple(chunk)) for k, chunk in enumerate(chunks)]
        people = self.by_persona(list(range(len(self.plan.participants))),
                                 lambda k: self.plan.participants[k].persona.id)
        chunks = [tuple(run[s:s + b]) for run in people for s in range(0, len(run), b)]
        return [Unit(i * len(chunks) + c, i, chunk) for i in range(n_items) for c, chunk in enumerate(chunks)]

    def share(self, workers: int, worker: int) -> list[Unit]:
        """The units worker `worker` of `workers` computes when a run is split over processes: every N-th unit
        in single mode; in conversation mode every N-th chunk of participants with all its items (a chunk's item
        needs the same chunk's earlier answers, and no other chunk's)."""
        units = self.units()
        if not units or units[0].item_index is None:
            return [u for u in units if u.index % workers == worker]
        chunks = len(units) // len(self.plan.items)
        return [u for u in units if u.index % chunks % workers == worker]

    def by_persona(self, keys: list, persona_of: Callable) -> list[list]:
        """The keys in one run, or (group_by_persona) in consecutive runs of one persona each."""
        if not self.group_by_persona:
            return [keys]
        runs: list[list] = []
        for key in keys:
            if not runs or persona_of(runs[-1][-1]) != persona_of(key):
                runs.append([])
            runs[-1].append(key)
        return runs

    def unit_keys(self, unit: Unit) -> set[tuple[str, str]]:
        """The (participant_id, item_id) rows a unit's part must hold: how a resumed run tells its own
        parts from a stray or swapped one."""
        if unit.item_index is None:
            return {(p.id, self.plan.items[i].id) for c, i in unit.keys for p in self.conditions[c]}
        item = self.plan.items[unit.item_index].id
        return {(self.plan.participants[k].id, item) for k in unit.keys}

    def longest_prompt(self) -> int:
        """Token length of the longest prompt this plan will show (answers filled with the last label)."""
        items = range(len(self.plan.items))
        if self.plan.administration == "single":
            return max(len(self.render_single(c, i)[2]) for c in range(len(self.conditions)) for i in items)
        filler = "9"
        longest = 0
        for group in self.conditions:
            p = group[0]
            questions = [self.question(p, self.plan.items[i])[0] for i in items]
            # A corpus persona's text changes with the item asked last: measure each distinct one.
            last_ids = {p.persona.text_for(item.id): item.id for item in self.plan.items}.values()
            for item_id in last_ids:
                _, ids = self.renderer.render(messages_for(p, questions, [filler] * (len(questions) - 1),
                                                           self.renderer.answer_prefix, item_id))
                longest = max(longest, len(ids))
        return longest

    def run(self, engine: Engine, store: RunStore, progress: bool = True,
            after_unit: Callable[[int], None] | None = None, units: list[Unit] | None = None) -> None:
        """Answer every unit (of `units`, a worker's share, or of the plan) the store has no part for, each
        written as its part as soon as it is done, so an interrupted run resumes where it stopped."""
        units = self.units() if units is None else units
        done = store.done_units()
        history = self.history(store) if self.plan.administration == "conversation" and done else {}
        todo = self.in_work_order([u for u in units if u.index not in done])
        bar = tqdm(total=len(units), initial=len(units) - len(todo), desc="administering", unit="batch",
                   disable=not progress)
        for unit in todo:
            rows, prompts = self.answer_unit(engine, unit, history)
            store.write_part(unit.index, rows, prompts if self.keep_prompt_texts else None)
            bar.update(1)
            if after_unit:
                after_unit(unit.index)
        bar.close()

    @staticmethod
    def in_work_order(units: list[Unit]) -> list[Unit]:
        """Conversation units run chunk by chunk, item after item (a chunk's item needs only the same
        chunk's earlier items), so an engine can keep a chunk's growing conversations from one item to the
        next instead of every chunk's; unit indices, batches and parts are unchanged, only the order."""
        if not units or units[0].item_index is None:
            return units
        return sorted(units, key=lambda u: (u.keys, u.item_index))

    def run_unit(self, engine: Engine, unit: Unit, history: dict[str, list[str]] | None = None) -> pa.Table:
        """One unit's response rows (conversation units need each participant's earlier answers, and add
        this one's); what `persona-bench plan` times."""
        return self.answer_unit(engine, unit, history)[0]

    def answer_unit(self, engine: Engine, unit: Unit,
                    history: dict[str, list[str]] | None = None) -> tuple[pa.Table, pa.Table]:
        """One unit's response rows and its distinct prompt texts: what `run` writes as one part."""
        if unit.item_index is None:
            return self._single(engine, unit)
        return self._conversation(engine, unit, {} if history is None else history)

    def unit_prompts(self, unit: Unit, history: dict[str, list[str]]) -> pa.Table:
        """A unit's prompt texts rendered again, without the model (for a part written before prompt texts
        were kept, or whose prompts file was damaged); conversation units take the earlier answers from
        `history` (all of a participant's answers: those before the unit's item are used)."""
        if unit.item_index is None:
            return prompt_table(self.render_single(c, i)[1:] for c, i in unit.keys)
        i = unit.item_index
        return prompt_table(self.render_conversation(self.plan.participants[k], i,
                                                     history.get(self.plan.participants[k].id, [])[:i])[1:]
                            for k in unit.keys)

    # -- rows -----------------------------------------------------------------------------
    def question(self, p: Participant, item: Item) -> tuple[str, tuple[int, ...]]:
        """The question text a participant sees for an item, with the option order it was shown in."""
        perm = self.plan.option_permutation(p, item)
        return question_text(self.plan.inventory, p, item, perm), perm

    def _row(self, p: Participant, item_index: int, perm, prompt: str, raw: str, position: int | None,
             refusal: bool, probs_pos: np.ndarray | None = None, mass: float = math.nan) -> dict:
        item = self.plan.items[item_index]
        scale = self.plan.inventory.scale_of(item)
        values = np.asarray(scale.values, dtype=float)
        # Where each option sits on the scored axis: the value itself, or (surveys) its ordinal
        # position, NaN for a refusal; the expected score is renormalised over scored options.
        axis = np.array([math.nan if o is None else o for o in scale.ordinal_values], dtype=float)
        chosen = perm[position - 1] if position else None
        answer = values[chosen] if position else math.nan
        refusal = bool(refusal or (chosen is not None and scale.refusals[chosen]))
        canon: list[float] | np.ndarray = []
        expected = math.nan
        if probs_pos is not None:
            canon = np.empty(len(values))
            canon[list(perm)] = probs_pos
            scored = ~np.isnan(axis)
            scored_mass = canon[scored].sum()
            expected = float(canon[scored] @ axis[scored] / scored_mass) if scored_mass > 0 else math.nan
        keyed = lambda v: v if item.keyed > 0 else scale.reverse(v)  # noqa: E731
        score = keyed(axis[chosen]) if chosen is not None else math.nan
        return {
            "participant_id": p.id,
            "persona_id": p.persona.id,
            "persona_target": p.persona.target,
            "template_id": p.template.id,
            "option_order": p.option_order,
            "temperature": p.temperature,
            "repetition": p.repetition,
            "participant_seed": p.seed,
            "item_id": item.id,
            "item_index": item_index,
            "trait": item.trait,
            "facet": item.facet or "",
            "keyed": item.keyed,
            "prompt_hash": prompt_hash(prompt),
            "option_permutation": [int(i) for i in perm],
            "raw_answer": raw,
            "parsed_option": int(position) if position else -1,
            "answer": answer,
            "score": score,
            "option_probs": [float(x) for x in canon],
            "expected_score": keyed(expected) if probs_pos is not None else math.nan,
            "label_mass": float(mass),
            "invalid": position is None,
            "refusal": bool(refusal),
            **self.constants,
        }

    def _from_logprobs(self, p: Participant, item_index: int, perm, prompt: str, logp: np.ndarray) -> dict:
        probs = tempered(logp, p.temperature)
        position = draw_answer(probs, stable_int(p.seed, self.plan.items[item_index].id)) + 1
        return self._row(p, item_index, perm, prompt, str(position), position, False, probs,
                         float(label_mass(logp)))

    def _from_text(self, p: Participant, item_index: int, perm, prompt: str, text: str) -> dict:
        scale = self.plan.inventory.scale_of(self.plan.items[item_index])
        labels = [scale.labels[c] for c in perm]
        parsed = parse_answer(text, labels)
        return self._row(p, item_index, perm, prompt, text, parsed.position, parsed.refusal)

    def _generate(self, engine: Engine, jobs: list[tuple[Participant, list[int]]], seed_of) -> list[str]:
        """Generate for (participant, prompt ids) jobs, batched per temperature."""
        texts: list[str | None] = [None] * len(jobs)
        by_temp: dict[float, list[int]] = defaultdict(list)
        for j, (p, _) in enumerate(jobs):
            by_temp[p.temperature].append(j)
        for temp, idx in sorted(by_temp.items()):
            for s in range(0, len(idx), self.batch_size):
                chunk = idx[s:s + self.batch_size]
                out = engine.generate([jobs[j][1] for j in chunk], temp, self.max_new_tokens,
                                      [seed_of(j) for j in chunk])
                for j, t in zip(chunk, out):
                    texts[j] = t
        return texts

    def render_single(self, condition: int, item_index: int) -> tuple[tuple[int, ...], str, list[int]]:
        """The one prompt a condition shows for an item: (option permutation, text, token ids)."""
        p0 = self.conditions[condition][0]
        question, perm = self.question(p0, self.plan.items[item_index])
        text, ids = self.renderer.render(messages_for(p0, [question], [], self.renderer.answer_prefix,
                                                      self.plan.items[item_index].id))
        return perm, text, ids

    def render_conversation(self, p: Participant, item_index: int,
                            previous: list[str]) -> tuple[tuple[int, ...], str, list[int]]:
        """The prompt a participant sees for an item in conversation mode, after its earlier answers."""
        questions = [self.question(p, self.plan.items[k])[0] for k in range(item_index)]
        question, perm = self.question(p, self.plan.items[item_index])
        text, ids = self.renderer.render(messages_for(p, questions + [question], previous,
                                                      self.renderer.answer_prefix, self.plan.items[item_index].id))
        return perm, text, ids

    def _single(self, engine: Engine, unit: Unit) -> tuple[pa.Table, pa.Table]:
        rendered = [(c, i, *self.render_single(c, i)) for c, i in unit.keys]
        rows = []
        if self.scoring == "logprob":
            logp = self.label_logprobs(engine, [r[4] for r in rendered], [r[1] for r in rendered],
                                       [self.prefix_group(self.conditions[r[0]][0]) for r in rendered])
            for (c, i, perm, text, _), lp in zip(rendered, logp):
                rows += [self._from_logprobs(p, i, perm, text, lp) for p in self.conditions[c]]
        else:
            jobs, meta = [], []
            for c, i, perm, text, ids in rendered:
                for p in self.conditions[c]:
                    jobs.append((p, ids))
                    meta.append((p, i, perm, text))
            texts = self._generate(engine, jobs, lambda j: stable_int(meta[j][0].seed, self.plan.items[meta[j][1]].id))
            rows = [self._from_text(p, i, perm, text, t) for (p, i, perm, text), t in zip(meta, texts)]
        return response_table(rows), prompt_table((r[3], r[4]) for r in rendered)

    # -- conversation mode ----------------------------------------------------------------
    def history(self, store: RunStore) -> dict[str, list[str]]:
        """Earlier answers per participant, rebuilt from the parts already written."""
        done = store.read_parts(columns=["participant_id", "item_index", "raw_answer"])
        history: dict[str, list[str]] = {}
        for pid, group in done.sort_values("item_index").groupby("participant_id"):
            history[pid] = [str(a).strip() for a in group["raw_answer"]]
        return history

    def _conversation(self, engine: Engine, unit: Unit, history: dict[str, list[str]]) -> tuple[pa.Table, pa.Table]:
        i = unit.item_index
        participants = [self.plan.participants[k] for k in unit.keys]
        rendered = []
        for p in participants:
            previous = history.get(p.id, [])
            if len(previous) != i:
                raise RuntimeError(f"participant {p.id}: {len(previous)} earlier answers before item {i}")
            rendered.append((p, *self.render_conversation(p, i, previous)))
        if self.scoring == "logprob":
            # Participants with the same history see the same prompt (e.g. repetitions at T = 0): one pass each.
            unique: dict[tuple, int] = {}
            group: list[tuple] = []
            for r in rendered:
                if tuple(r[3]) not in unique:
                    unique[tuple(r[3])] = len(unique)
                    group.append(self.prefix_group(r[0]))
            logp_unique = self.label_logprobs(engine, [list(k) for k in unique], [i] * len(unique), group,
                                              keep_rows=True)
            logp = [logp_unique[unique[tuple(r[3])]] for r in rendered]
            rows = [self._from_logprobs(p, i, perm, text, lp) for (p, perm, text, _), lp in zip(rendered, logp)]
        else:
            texts = self._generate(engine, [(p, ids) for p, _, _, ids in rendered],
                                   lambda j: stable_int(rendered[j][0].seed, self.plan.items[i].id))
            rows = [self._from_text(p, i, perm, text, t) for (p, perm, text, _), t in zip(rendered, texts)]
        for r in rows:
            history.setdefault(r["participant_id"], []).append(str(r["raw_answer"]).strip())
        return response_table(rows), prompt_table((text, ids) for _, _, text, ids in rendered)
