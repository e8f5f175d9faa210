"""transformers backend (CPU or CUDA), with peft adapters; the reference the vLLM path is tested against."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from bench.engines.base import Engine

# Below this many shared tokens the extra cache copy costs more than it saves.
MIN_SHARED_PREFIX = 16
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(self, spec, seed: int = 0, device: str | None = None, prefix_reuse: bool = True, **options):
        super().__init__(spec, seed=seed, **options)
        self.prefix_reuse = prefix_reuse
        from transformers import AutoModelForCausalLM

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = AutoModelForCausalLM.from_pretrained(spec.path, dtype=DTYPES[spec.dtype])
        if spec.adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, spec.adapter)
        self.model = model.to(self.device).eval()
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id

    def batch_inputs(self, prompts: Sequence[Sequence[int]]):
        """Left-pad so the last position is each prompt's last token; positions ignore the padding."""
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

    @torch.inference_mode()
    def label_logprobs(self, prompts, label_ids):
        n = self.shared_prefix(prompts) if self.prefix_reuse and len(prompts) > 1 else 0
        if n >= MIN_SHARED_PREFIX:
            logits = self._last_logits_after_prefix(prompts, n)
        else:
            ids, mask, positions = self.batch_inputs(prompts)
            logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                logits_to_keep=1).logits[:, -1, :]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        return logprobs[:, list(label_ids)].double().cpu().numpy()

    def _last_logits_after_prefix(self, prompts, n: int):
        """The shared prefix goes through the model once; its KV cache is copied to every row and
        only the (left-padded) rest of each prompt is computed. Same numbers as the full batch
        (tests/test_engines.py), less work by the prefix's share of the tokens."""
        head = torch.tensor([list(prompts[0][:n])], dtype=torch.long, device=self.device)
        cache = self.model(input_ids=head, use_cache=True, logits_to_keep=1).past_key_values
        cache.batch_repeat_interleave(len(prompts))
        ids, mask, _ = self.batch_inputs([p[n:] for p in prompts])
        full_mask = torch.cat([torch.ones((len(prompts), n), dtype=mask.dtype, device=mask.device), mask], dim=1)
        positions = n + (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=full_mask, position_ids=positions, past_key_values=cache,
                         use_cache=True, logits_to_keep=1)
        return out.logits[:, -1, :]

    @torch.inference_mode()
    def generate(self, prompts, temperature, max_new_tokens, seeds):
        """Each prompt is generated alone under its own seed, so a participant's answer does not
        depend on which other prompts share its batch (transformers cannot seed rows of a batch)."""
        from transformers import GenerationConfig

        sample = temperature > 0
        # An explicit config: the model's own generation_config (top_k=50, repetition penalties...)
        # must not change what "sampling at temperature T" means between engines.
        config = GenerationConfig(do_sample=sample, temperature=temperature if sample else None,
                                  top_k=0 if sample else None, top_p=1.0 if sample else None,
                                  repetition_penalty=1.0, max_new_tokens=max_new_tokens,
                                  pad_token_id=self.pad_id, eos_token_id=self.tokenizer.eos_token_id)
        texts = []
        for ids, seed in zip(prompts, seeds):
            torch.manual_seed(int(seed))
            out = self.model.generate(input_ids=torch.tensor([list(ids)], device=self.device),
                                      attention_mask=torch.ones((1, len(ids)), dtype=torch.long, device=self.device),
                                      generation_config=config)
            texts.append(self.tokenizer.decode(out[0, len(ids):], skip_special_tokens=True))
        return texts

    def close(self):
        del self.model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
