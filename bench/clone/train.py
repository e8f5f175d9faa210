"""LoRA clone training: causal-LM loss on a person's texts, early stopping on their held-out texts.

Batches and dropout are seeded by step, and a checkpoint (adapter, optimizer, curve) is written at
every evaluation, so an interrupted run resumed from its checkpoint ends with the same adapter as
an uninterrupted one. The output folder holds the best adapter (by validation loss) and
`clone_card.json` (base model hash, data hashes, hyperparameters, validation curve); never text.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from bench.clone.examples import build_examples, collate
from bench.clone.scoring import mean_loss
from bench.writing.corpus import Corpus, CorpusError, corpus_from_config, split_corpus
from bench.engines.models import ModelSpec, resolve_model, sha256_folder
from bench.hashing import stable_int
from bench.hashing import digest, without_defaults
from bench.results.provenance import CORPUS_ADDED, git_commit, package_versions
from bench.results.atomic import atomic_write_json

CARD = "clone_card.json"
CHECKPOINT = "checkpoint"
NON_TRAINING_KEYS = ("progress", "output_dir", "report", "results_dir")


@dataclass(frozen=True)
class CloneData:
    """A person's corpus and its train / held-out split, and how it was split."""
    corpus: Corpus
    train: Corpus
    held_out: Corpus
    split: str  # "time" or "hash"


def clone_data(cfg: dict) -> CloneData:
    """The one person a clone is trained on, and the deterministic split of their writing."""
    corpora = corpus_from_config(cfg["corpus"])
    if len(corpora) != 1:
        raise CorpusError(f"{cfg['corpus']['path']}: {len(corpora)} authors; a clone is one person: set "
                          "corpus.author=<id>")
    corpus = next(iter(corpora.values()))
    train, held = split_corpus(corpus, float(cfg["corpus"]["held_out"]), int(cfg["seed"]))
    split = "time" if all(d.date for d in corpus.documents) else "hash"
    return CloneData(corpus, train, held, split)


def dp_enabled(cfg: dict) -> bool:
    """Whether the training config asks for differentially private training."""
    return bool((cfg["train"].get("dp") or {}).get("enabled"))


def training_hash(cfg: dict) -> str:
    """What the adapter depends on. max_steps is left out so a finished clone can train on, except
    under a privacy target, where the noise is chosen for max_steps."""
    rest = {k: v for k, v in cfg.items() if k not in NON_TRAINING_KEYS}
    rest["train"] = {k: v for k, v in cfg["train"].items() if k != "max_steps" or dp_enabled(cfg)}
    if not dp_enabled(cfg):
        rest["train"].pop("dp", None)  # switched-off DP settings don't change the adapter
    return digest(without_defaults(rest, {f"corpus.{k}": v for k, v in CORPUS_ADDED.items()}))


def output_dir_for(cfg: dict, data: CloneData | None = None) -> Path:
    """Where a clone's adapter goes: the configured folder, or clones/<author>-<training hash>, so a changed
    training never overwrites another."""
    if cfg.get("output_dir"):
        return Path(str(cfg["output_dir"]))
    author = (data.corpus.author if data else cfg["corpus"].get("author")) or "person"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(author))
    return Path("clones") / f"{safe}-{training_hash(cfg)[:10]}"


def batch_indices(step: int, batch_size: int, n: int, seed: int) -> list[int]:
    """Example indices of a step: consecutive slices of a stream of seeded per-epoch permutations."""
    out = []
    for j in range(step * batch_size, (step + 1) * batch_size):
        epoch, pos = divmod(j, n)
        out.append(int(np.random.default_rng(stable_int(seed, "epoch", epoch)).permutation(n)[pos]))
    return out


def _save_adapter(model, folder: Path) -> None:
    """Write the adapter files into `folder` atomically (file by file, through a temp dir)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=".adapter"))
    try:
        model.save_pretrained(tmp)
        for f in tmp.iterdir():
            os.replace(f, folder / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _save_checkpoint(out: Path, model, optimizer, state: dict) -> None:
    tmp = out / (CHECKPOINT + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps(state))
    old = out / (CHECKPOINT + ".old")
    if (out / CHECKPOINT).exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out / CHECKPOINT, old)
    os.replace(tmp, out / CHECKPOINT)
    shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(out: Path) -> Path | None:
    for name in (CHECKPOINT, CHECKPOINT + ".old"):
        if (out / name / "state.json").is_file():
            return out / name
    return None


def base_model(spec: ModelSpec):
    """The base model in float32 for LoRA training, its tokenizer, and the pad id to use."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(spec.path)
    model = AutoModelForCausalLM.from_pretrained(spec.path, dtype=torch.float32)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return model, tokenizer, pad


def train_clone(cfg: dict, progress: bool | None = None, stop_after: int | None = None) -> Path:
    """Train (or resume) the clone described by a `conf/clone.yaml` config; returns the adapter folder.

    `stop_after` ends the run after that many optimizer steps of this call (to test resuming)."""
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file

    data = clone_data(cfg)
    spec = resolve_model(cfg["model"])
    out = output_dir_for(cfg, data)
    out.mkdir(parents=True, exist_ok=True)
    t, lora = cfg["train"], cfg["lora"]
    seed = int(cfg["seed"])
    torch.manual_seed(seed)
    model, tokenizer, pad = base_model(spec)
    model = get_peft_model(model, LoraConfig(r=int(lora["r"]), lora_alpha=int(lora["alpha"]),
                                             lora_dropout=float(lora["dropout"]),
                                             target_modules=list(lora["target_modules"]), task_type="CAUSAL_LM"))
    mk = lambda docs: build_examples(tokenizer, docs, cfg["format"], cfg["instruction"], int(cfg["max_length"]))  # noqa: E731
    train_ex = mk(data.train.documents)
    eval_docs = data.held_out.documents[: t.get("max_eval_documents") or None]
    eval_ex = mk(eval_docs)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=float(t["lr"]), weight_decay=float(t["weight_decay"]))
    bs = int(t["batch_size"])
    key = training_hash(cfg)
    state = {"training_hash": key, "step": 0, "curve": [], "best_val": None, "best_step": None, "bad_evals": 0,
             "stopped_early": False, "train_losses": []}
    ckpt = _load_checkpoint(out)
    if ckpt is not None:
        saved = json.loads((ckpt / "state.json").read_text())
        if saved.get("training_hash") != key:
            raise ValueError(f"{out}: holds a clone trained with another config; set output_dir=<new folder> or "
                             "remove it")
        state = saved
        set_peft_model_state_dict(model, load_file(ckpt / "adapter_model.safetensors"))
        optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
    private = None
    if dp_enabled(cfg):
        from bench.clone.privacy import PrivateTrainer, plan_privacy

        private = PrivateTrainer(model, optimizer, plan_privacy(t["dp"], len(train_ex), bs, int(t["max_steps"]),
                                                                cfg["format"]), seed)

    def evaluate(step: int) -> None:
        val = mean_loss(model, eval_ex, pad, bs)
        losses = state["train_losses"]
        state["curve"].append({"step": step, "train_loss": float(np.mean(losses)) if losses else None,
                               "val_loss": val})
        state["train_losses"] = []
        if state["best_val"] is None or val < state["best_val"] - float(t["min_delta"]):
            state.update(best_val=val, best_step=step, bad_evals=0)
            _save_adapter(model, out)
        else:
            state["bad_evals"] += 1
        if step > 0 and state["bad_evals"] >= int(t["patience"]):
            state["stopped_early"] = True

    if not state["curve"]:
        evaluate(0)
    max_steps, every = int(t["max_steps"]), int(t["eval_every"])
    show = cfg.get("progress", True) if progress is None else progress
    bar = tqdm(total=max_steps, initial=state["step"], desc="training clone", unit="step", disable=not show)
    done_here = 0
    while state["step"] < max_steps and not state["stopped_early"]:
        if stop_after is not None and done_here >= stop_after:
            break
        step = state["step"]
        model.train()
        torch.manual_seed(stable_int(seed, "dropout", step))
        if private is None:
            batch = collate([train_ex[i] for i in batch_indices(step, bs, len(train_ex), seed)], pad)
            loss = model(**batch).loss
            loss.backward()
            if t.get("grad_clip"):
                torch.nn.utils.clip_grad_norm_(params, float(t["grad_clip"]))
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            state["train_losses"].append(loss.item())
        else:
            from bench.clone.privacy import poisson_batch

            chosen = poisson_batch(step, private.plan.sample_rate, len(train_ex), seed)
            if chosen:  # an empty Poisson batch releases nothing; the step still counts toward epsilon
                state["train_losses"].append(private.step(step, collate([train_ex[i] for i in chosen], pad)))
        state["step"] = step + 1
        done_here += 1
        bar.update(1)
        if state["train_losses"]:
            bar.set_postfix(loss=f"{state['train_losses'][-1]:.3f}")
        if state["step"] % every == 0 or state["step"] == max_steps:
            evaluate(state["step"])
            _save_checkpoint(out, model, optimizer, state)
    bar.close()
    if state["curve"] and (state["step"] == max_steps or state["stopped_early"]):
        write_card(out, cfg, data, spec, state, private.card(state["step"]) if private else None)
    elif stop_after is not None:
        _save_checkpoint(out, model, optimizer, state)
    return out


def write_card(out: Path, cfg: dict, data: CloneData, spec: ModelSpec, state: dict,
               privacy: dict | None = None) -> None:
    """Write the clone's card (clone_card.json): base model, data fingerprints, hyperparameters and validation curve,
    so the adapter says what made it."""
    card = {
        "kind": "persona-bench clone (peft LoRA)",
        "base_model": {"id": spec.id, "sha256": spec.sha256, "dtype_trained": "float32"},
        "adapter_sha256": sha256_folder(out, ("*.safetensors",)),
        "data": {"source": str(cfg["corpus"]["path"]), "split": data.split,
                 "held_out_fraction": float(cfg["corpus"]["held_out"]), "corpus": data.corpus.fingerprint(),
                 "train": data.train.fingerprint(), "held_out": data.held_out.fingerprint()},
        "format": cfg["format"],
        "instruction": cfg["instruction"],
        "hyperparameters": {"max_length": int(cfg["max_length"]), "lora": cfg["lora"], "train": cfg["train"],
                            "seed": int(cfg["seed"])},
        "training_hash": state["training_hash"],
        "validation_curve": state["curve"],
        "best_step": state["best_step"],
        "best_val_loss": state["best_val"],
        "steps_run": state["step"],
        "stopped_early": state["stopped_early"],
        "differential_privacy": privacy,
        "packages": package_versions(),
        "git": git_commit(),
    }
    atomic_write_json(out / CARD, card)
