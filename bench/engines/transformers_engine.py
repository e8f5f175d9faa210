"""transformers backend (CPU or CUDA), with peft adapters; the reference the vLLM path is tested against."""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Sequence

from bench.engines.base import Engine
from bench.engines.registry import Option, register_engine

# Below this many shared tokens the extra cache copy costs more than it saves.
MIN_SHARED_PREFIX = 16
# Prefix KV caches kept across batches (batch-1 caches of a few MB each for a small model): enough for
# the prefixes one stretch of a run alternates between (a persona's templates and option orders).
PREFIX_CACHE = 8
# KV caches kept of conversation rows (conversation mode: each participant's prompt is its previous one
# plus an answer and the next question), in MB: a chunk of 16 participants late in a 44-item BFI
# conversation (~3,000 tokens each) holds ~2 GB of SmolLM2 KV in fp32; past the budget the oldest rows are
# dropped and recomputed.
ROW_CACHE_MB = 2048


def device_problem(device: str) -> str | None:
    """Why torch cannot run on `device` here: not a device string torch knows, or one this machine lacks
    (a CUDA index past the GPUs it sees); None when it can. torch is imported only when a device is named."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        return "is not a torch device: use cpu, cuda or cuda:<index> (or null: cuda when available, else cpu)"
    if dev.type == "cpu":
        return None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            return "no CUDA GPU is visible on this machine: use cpu (or null)"
        if (dev.index or 0) >= count:
            return f"this machine has {count} CUDA GPU(s) (cuda:0{f'..cuda:{count - 1}' if count > 1 else ''})"
        return None
    if dev.type == "mps" and torch.backends.mps.is_available():
        return None
    return f"the transformers engine runs on cpu or cuda here, not {dev.type}"


OPTIONS = {
    "device": Option("text", "torch device (cpu, cuda, cuda:1); null: cuda when available, else cpu", optional=True,
                     rule=device_problem),
    "prefix_reuse": Option("bool", "compute a batch's shared prompt prefix once"),
    "prefix_cache": Option("int", "prefix KV caches kept across batches (0: none)", low=0),
    "row_cache_mb": Option("int", "MB of conversation rows' KV caches kept from item to item (0: off)", low=0),
}


@register_engine("transformers", OPTIONS)
class TransformersEngine(Engine):
    """The reference backend: transformers (torch imported on opening, so the registry reads options cheaply)."""

    def __init__(self, spec, seed: int = 0, device: str | None = None, prefix_reuse: bool = True,
                 prefix_cache: int = PREFIX_CACHE, row_cache_mb: int = ROW_CACHE_MB, **options):
        super().__init__(spec, seed=seed, **options)
        self.prefix_reuse = prefix_reuse
        self.prefix_cache = prefix_cache  # 0: a batch's shared prefix is computed for that batch only
        self._prefixes: OrderedDict[tuple[int, ...], object] = OrderedDict()  # prefix tokens -> batch-1 KV cache
        self.row_cache_mb = row_cache_mb  # 0: conversation rows are not kept from one item to the next
        self._rows: OrderedDict[tuple[int, ...], list] = OrderedDict()  # prompt tokens -> per-layer (keys, values)
        self.counters = self.new_counters()
        import torch
        from transformers import AutoModelForCausalLM

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = AutoModelForCausalLM.from_pretrained(spec.path, dtype=getattr(torch, spec.dtype))
        if spec.adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, spec.adapter)
        self.model = model.to(self.device).eval()
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id

    def batch_inputs(self, prompts: Sequence[Sequence[int]]):
        """Left-pad so the last position is each prompt's last token; positions ignore the padding."""
        import torch

        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, p in enumerate(prompts):
            ids[row, width - len(p):] = torch.tensor(list(p), dtype=torch.long)
            mask[row, width - len(p):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return ids.to(self.device), mask.to(self.device), positions.to(self.device)

    @staticmethod
    def shared_prefix(prompts: Sequence[Sequence[int]]) -> int:
        """Tokens every prompt starts with (chat template, persona, instruction), leaving each prompt
        at least one token of its own."""
        first, n = prompts[0], min(len(p) for p in prompts) - 1
        for p in prompts[1:]:
            n = next((k for k in range(n) if p[k] != first[k]), n)
        return max(n, 0)

    @staticmethod
    def new_counters() -> dict:
        """Work done since the last reset: positions the model computed (padding included), the padding
        among them, how often a kept prefix cache served a batch, and how many conversation rows a kept
        row cache served (row_hits) or not (row_misses)."""
        return {"tokens": 0, "padding": 0, "prefix_hits": 0, "prefix_misses": 0, "calls": 0,
                "row_hits": 0, "row_misses": 0}

    @property
    def kept_prefixes(self) -> int:
        """How many prefix caches the engine holds now: what tests and the benchmark check the cache budget by."""
        return len(self._prefixes)

    @property
    def kept_rows(self) -> int:
        """Conversation rows whose KV caches are kept for their next item."""
        return len(self._rows)

    def reset(self) -> None:
        """Forget kept prefix caches and zero the counters (a benchmark's paths start alike)."""
        self._prefixes.clear()
        self._rows.clear()
        self.counters = self.new_counters()

    def label_logprobs(self, prompts, label_ids, keep_rows: bool = False):
        """Label log-probs without autograd (inference mode), prefixes shared and kept as the engine's options
        say."""
        import torch

        with torch.inference_mode():
            return self._label_logprobs(prompts, label_ids, keep_rows)

    def _label_logprobs(self, prompts, label_ids, keep_rows: bool):
        import torch

        self.counters["calls"] += 1
        if keep_rows and self.prefix_reuse and self.row_cache_mb and self._rows_supported():
            logits = self._last_logits_from_rows(prompts)
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            return logprobs[:, list(label_ids)].double().cpu().numpy()
        n = min(len(p) for p in prompts) - 1 if len(prompts) == 1 else self.shared_prefix(prompts)
        logits = None
        if self.prefix_reuse and n >= MIN_SHARED_PREFIX:
            logits = self._last_logits_after_prefix(prompts, n)
        if logits is None:
            ids, mask, positions = self.batch_inputs(prompts)
            self._count(mask)
            logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                logits_to_keep=1).logits[:, -1, :]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        return logprobs[:, list(label_ids)].double().cpu().numpy()

    def _count(self, mask) -> None:
        self.counters["tokens"] += mask.numel()
        self.counters["padding"] += int(mask.numel() - mask.sum())

    def _kept_prefix(self, head: tuple[int, ...]):
        """The kept cache sharing the most leading tokens with `head`, as (tokens shared, cache)."""
        best, cache = 0, None
        for key, kept in self._prefixes.items():
            k = next((j for j, (a, b) in enumerate(zip(key, head)) if a != b), min(len(key), len(head)))
            if k > best:
                best, cache = k, key
        if cache is not None and best >= MIN_SHARED_PREFIX:
            self._prefixes.move_to_end(cache)
            return best, self._prefixes[cache]
        return 0, None

    def _prefix_cache(self, head: tuple[int, ...], keep: bool):
        """A batch-1 KV cache of `head`: the longest kept prefix is copied, cut to what it shares, and
        extended by the tokens it lacks, so a persona's prefix is computed once per run rather than once
        per batch. The kept caches are never modified (each use works on a copy)."""
        import torch

        k, kept = self._kept_prefix(head) if self.prefix_cache else (0, None)
        self.counters["prefix_hits" if k else "prefix_misses"] += 1
        if kept is not None and kept.get_seq_length() == k == len(head):
            return kept
        cache = None
        if kept is not None:
            cache = copy.deepcopy(kept)
            if cache.get_seq_length() > k:
                cache.crop(k - cache.get_seq_length())  # a negative value removes that many tokens
            if k == len(head):
                return cache
        rest = torch.tensor([list(head[k:])], dtype=torch.long, device=self.device)
        positions = torch.arange(k, len(head), device=self.device).unsqueeze(0)
        self.counters["tokens"] += rest.numel()
        cache = self.model(input_ids=rest, position_ids=positions, past_key_values=cache, use_cache=True,
                           logits_to_keep=1).past_key_values
        if keep and self.prefix_cache:
            self._prefixes[head] = cache
            while len(self._prefixes) > self.prefix_cache:
                self._prefixes.popitem(last=False)
        return cache

    def _last_logits_after_prefix(self, prompts, n: int):
        """The shared prefix goes through the model once (or comes from a kept cache); its KV cache is
        copied to every row and only the (left-padded) rest of each prompt is computed. Same numbers as
        the full batch (tests/test_engines.py, tests/test_perf.py), less work by the prefix's share.
        A single prompt only uses a kept prefix (None when there is none: nothing would be saved)."""
        import torch

        head = tuple(prompts[0][:n])
        if len(prompts) == 1:
            k, _ = self._kept_prefix(head) if self.prefix_cache else (0, None)
            if not k:
                return None
            head = head[:k]
        cache = copy.deepcopy(self._prefix_cache(head, keep=len(prompts) > 1))
        n = len(head)
        if len(prompts) > 1:
            cache.batch_repeat_interleave(len(prompts))
        ids, mask, _ = self.batch_inputs([p[n:] for p in prompts])
        self._count(mask)
        full_mask = torch.cat([torch.ones((len(prompts), n), dtype=mask.dtype, device=mask.device), mask], dim=1)
        positions = n + (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=full_mask, position_ids=positions, past_key_values=cache,
                         use_cache=True, logits_to_keep=1)
        return out.logits[:, -1, :]

    # -- conversation rows kept from one item to the next ------------------------------------------
    def _rows_supported(self) -> bool:
        """Rows of different kept lengths are padded inside the KV cache: fine for full attention, not for
        sliding-window layers (Gemma 3), whose window counts cache slots, padding included."""
        if not hasattr(self, "_full_attention"):
            types = getattr(self.model.config.get_text_config(decoder=True), "layer_types", None) or []
            self._full_attention = all(t == "full_attention" for t in types)
        return self._full_attention

    def _kept_row(self, prompt: Sequence[int]) -> tuple[int, tuple | None]:
        """The kept row sharing the most leading tokens with `prompt` (at most all but its last token)."""
        import torch

        best, key, ids = 0, None, torch.as_tensor(list(prompt))
        for kept in self._rows:
            m = min(len(kept), len(prompt) - 1)
            if m <= best:
                continue
            differ = (torch.as_tensor(kept[:m]) != ids[:m]).nonzero()
            k = int(differ[0]) if len(differ) else m
            if k > best:
                best, key = k, kept
        return (best, key) if best >= MIN_SHARED_PREFIX else (0, None)

    def _start_caches(self, prompts) -> list[tuple[int, list | None]]:
        """Each row's already-computed start as (tokens, per-layer batch-1 (keys, values)): its own
        conversation's previous prompt when kept, else the prefix the unkept rows share (kept across
        batches like any prefix), else nothing."""
        starts: list = []
        for p in prompts:
            k, key = self._kept_row(p)
            self.counters["row_hits" if k else "row_misses"] += 1
            starts.append((k, None if key is None else [(kk[..., :k, :], v[..., :k, :]) for kk, v in self._rows[key]],
                           key))
        cold = [r for r, (k, _, _) in enumerate(starts) if not k]
        if cold:
            n = (len(prompts[cold[0]]) - 1 if len(cold) == 1 else self.shared_prefix([prompts[r] for r in cold]))
            head = tuple(prompts[cold[0]][:n])
            if len(cold) == 1:  # one prompt alone only uses a prefix kept before (as label_logprobs does)
                n = self._kept_prefix(head)[0] if self.prefix_cache else 0
                head = head[:n]
            if n >= MIN_SHARED_PREFIX:
                cache = self._prefix_cache(head, keep=True)
                layers = [(layer.keys, layer.values) for layer in cache.layers]
                for r in cold:
                    starts[r] = (n, layers, None)
        return starts

    def _last_logits_from_rows(self, prompts):
        """Conversation mode: every row starts from its own kept cache (the previous item's prompt of the
        same conversation), of whatever length; the starts are left-padded into one batch cache, the rows'
        new tokens are left-padded after them, and the attention mask hides both paddings. Each row's
        whole prompt is then kept for its next item (the one it came from is dropped: a conversation
        only grows). Same numbers as the plain batch (tests/test_perf.py)."""
        import torch

        from transformers import DynamicCache

        starts = self._start_caches(prompts)
        width = max(k for k, _, _ in starts)
        ids, mask, _ = self.batch_inputs([p[k:] for p, (k, _, _) in zip(prompts, starts)])
        self._count(mask)
        past_mask = torch.zeros((len(prompts), width), dtype=mask.dtype, device=mask.device)
        cache = DynamicCache(config=self.model.config)
        if width:
            for r, (k, _, _) in enumerate(starts):
                past_mask[r, width - k:] = 1
            some = next(layers for _, layers, _ in starts if layers is not None)
            for index, (k0, v0) in enumerate(some):
                keys = k0.new_zeros((len(prompts), k0.shape[1], width, k0.shape[-1]))
                values = v0.new_zeros((len(prompts), v0.shape[1], width, v0.shape[-1]))
                for r, (k, layers, _) in enumerate(starts):
                    if k:
                        keys[r, :, width - k:] = layers[index][0][0]
                        values[r, :, width - k:] = layers[index][1][0]
                cache.update(keys, values, index)
        positions = torch.tensor([[k] for k, _, _ in starts], device=mask.device) + (mask.cumsum(-1) - 1).clamp(min=0)
        full_mask = torch.cat([past_mask, mask], dim=1)
        out = self.model(input_ids=ids, attention_mask=full_mask, position_ids=positions, past_key_values=cache,
                         use_cache=True, logits_to_keep=1)
        self._keep_rows(prompts, starts, out.past_key_values, full_mask)
        return out.logits[:, -1, :]

    def _keep_rows(self, prompts, starts, cache, full_mask) -> None:
        """Keep each row's whole prompt (its cache slots where the mask is 1), drop the rows they grew
        from, and the oldest rows past the budget."""
        for _, _, key in starts:
            self._rows.pop(key, None)  # the conversation moved on from it (None: started cold)
        budget = self.row_cache_mb * 2**20
        for r, p in enumerate(prompts):
            where = full_mask[r].nonzero().squeeze(-1)
            self._rows[tuple(p)] = [(layer.keys[r:r + 1, :, where].clone(), layer.values[r:r + 1, :, where].clone())
                                    for layer in cache.layers]
        size = lambda layers: sum(t.nbytes for kv in layers for t in kv)  # noqa: E731
        total = sum(size(v) for v in self._rows.values())
        while total > budget and self._rows:
            total -= size(self._rows.popitem(last=False)[1])

    def generate(self, prompts, temperature, max_new_tokens, seeds):
        """Each prompt is generated alone under its own seed, so a participant's answer does not
        depend on which other prompts share its batch (transformers cannot seed rows of a batch)."""
        import torch

        from transformers import GenerationConfig

        sample = temperature > 0
        # An explicit config: the model's own generation_config (top_k=50, repetition penalties...)
        # must not change what "sampling at temperature T" means between engines.
        config = GenerationConfig(do_sample=sample, temperature=temperature if sample else None,
                                  top_k=0 if sample else None, top_p=1.0 if sample else None,
                                  repetition_penalty=1.0, max_new_tokens=max_new_tokens,
                                  pad_token_id=self.pad_id, eos_token_id=self.tokenizer.eos_token_id)
        texts = []
        with torch.inference_mode():
            for ids, seed in zip(prompts, seeds):
                torch.manual_seed(int(seed))
                out = self.model.generate(input_ids=torch.tensor([list(ids)], device=self.device),
                                          attention_mask=torch.ones((1, len(ids)), dtype=torch.long,
                                                                    device=self.device),
                                          generation_config=config)
                texts.append(self.tokenizer.decode(out[0, len(ids):], skip_special_tokens=True))
        return texts

    def close(self):
        """Drop the model and its kept caches, freeing GPU memory when there is one."""
        import torch

        self._prefixes.clear()
        self._rows.clear()
        del self.model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
