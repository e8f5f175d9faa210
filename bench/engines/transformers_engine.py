"""transformers backend (CPU or CUDA), with peft adapters; the reference the vLLM path is tested against."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from bench.engines.base import Engine

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(self, spec, seed: int = 0, device: str | None = None, **options):
        super().__init__(spec, seed=seed, **options)
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

    def _batch(self, prompts: Sequence[Sequence[int]]):
        """Left-pad so the last position is each prompt's last token; positions ignore the padding."""
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, p in enumerate(prompts):
            ids[row, width - len(p):] = torch.tensor(list(p), dtype=torch.long)
            mask[row, width - len(p):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return ids.to(self.device), mask.to(self.device), positions.to(self.device)

    @torch.inference_mode()
    def label_logprobs(self, prompts, label_ids):
        ids, mask, positions = self._batch(prompts)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1)
        logprobs = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)
        return logprobs[:, list(label_ids)].double().cpu().numpy()

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
