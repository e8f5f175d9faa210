"""The prompt a model reads: messages rendered through its chat template, or as plain text for base models.

Here, beside the engines, so every path that prompts a model (administration, backstories, clones,
behaviour) renders through this one class.
"""

from __future__ import annotations

from bench.errors import BenchError
from bench.instruments import MAX_OPTIONS

FORMATS = ("auto", "chat", "plain")


class PromptFormatError(BenchError):
    """A prompt format the tokenizer cannot give (prompt.format=chat on a model without a chat template)."""


def resolve_format(tokenizer, fmt: str) -> str:
    """`auto` is chat where the tokenizer has a chat template (an instruct model), else plain (a base model)."""
    if fmt not in FORMATS:
        raise PromptFormatError(f"prompt.format: '{fmt}' is not one of {', '.join(FORMATS)}")
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if fmt == "auto":
        return "chat" if has_template else "plain"
    if fmt == "chat" and not has_template:
        raise PromptFormatError(f"prompt.format: 'chat', but the tokenizer of "
                                f"'{getattr(tokenizer, 'name_or_path', '?')}' has no chat template (a base "
                                "model): use prompt.format=plain or auto")
    return fmt


def bos_text(tokenizer) -> str:
    """The BOS text the tokenizer itself would add (Gemma's; SmolLM2's adds none), written into a plain
    prompt so that its text alone gives its tokens."""
    added = tokenizer("", add_special_tokens=True).input_ids
    return tokenizer.bos_token if tokenizer.bos_token and tokenizer.bos_token_id in added else ""


class PromptRenderer:
    """Turns messages into the model's prompt once, in one place, for every engine.

    chat: the model's chat template, the assistant turn prefilled with the answer prefix.
    plain (base models): the tokenizer's BOS, the persona as a preamble, then one block per question
    ("<question>\nAnswer: <n>"), blocks a blank line apart, ending in the answer cue ("Answer: "), so the
    label is the next token as in chat. With an empty cue (free writing) the prompt ends in a blank line
    and the model writes the next paragraph.
    """

    # A fixed date for chat templates that print today's date (Llama 3.x): a resumed run, or a rerun
    # on another day, must show the same prompt.
    TEMPLATE_DATE = "01 Jan 2025"

    def __init__(self, tokenizer, answer_prefix: str, fmt: str = "auto"):
        self.tokenizer = tokenizer
        self.answer_prefix = answer_prefix
        self.format = resolve_format(tokenizer, fmt)
        self.bos = bos_text(tokenizer) if self.format == "plain" else ""

    @classmethod
    def from_config(cls, tokenizer, prompt_cfg: dict, answer_prefix: str | None = None) -> "PromptRenderer":
        """The renderer a config's `prompt` section asks for (`answer_prefix` overrides its cue: "" to write)."""
        prefix = prompt_cfg["answer_prefix"] if answer_prefix is None else answer_prefix
        return cls(tokenizer, prefix, prompt_cfg.get("format", "auto"))

    def labels_for(self, n_options: int) -> list[int]:
        """Token ids of the labels "1".."n" as they follow the answer prefix (not tokenized alone:
        SentencePiece tokenizers add a word-start piece to a lone "3")."""
        if not 2 <= n_options <= MAX_OPTIONS:
            raise ValueError(f"{n_options} options: option labels are the digits 1-{MAX_OPTIONS}, so 2 to "
                             f"{MAX_OPTIONS} options are supported")
        base = self.tokenizer(self.answer_prefix, add_special_tokens=False).input_ids
        ids = []
        for d in range(1, n_options + 1):
            full = self.tokenizer(self.answer_prefix + str(d), add_special_tokens=False).input_ids
            if full[:len(base)] != base or len(full) != len(base) + 1:
                raise ValueError(f"option label '{d}' after the answer prefix {self.answer_prefix!r} is not one "
                                 f"token for this tokenizer ({full[len(base) - 1:]}); change prompt.answer_prefix")
            ids.append(full[-1])
        return ids

    def plain_text(self, messages: list[dict]) -> str:
        """The messages as plain text for a model without a chat template: blocks apart by blank lines, each
        answer after its question, then the answer cue."""
        blocks: list[str] = []
        for m in messages:
            if m["role"] == "assistant" and blocks:
                blocks[-1] += "\n" + m["content"]
            else:
                blocks.append(m["content"])
        return self.bos + "\n\n".join(blocks) + "\n" + (self.answer_prefix or "\n")

    def text(self, messages: list[dict]) -> str:
        """The prompt text the model reads: its chat template (with a fixed date, so prompts do not change by
        day) or plain text, then the answer cue."""
        if self.format == "plain":
            return self.plain_text(messages)
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                                  date_string=self.TEMPLATE_DATE) + self.answer_prefix

    def render(self, messages: list[dict]) -> tuple[str, list[int]]:
        """The prompt as text and as the token ids engines take (no special tokens added: the text already holds
        them)."""
        text = self.text(messages)
        return text, self.tokenizer(text, add_special_tokens=False).input_ids

    def with_reply(self, messages: list[dict], reply: str) -> str:
        """The prompt for `messages` followed by `reply` as the answer, ended as the format ends a turn
        (the chat template's end of turn; plain: the EOS token): what a clone is trained on."""
        if self.format == "plain":
            return self.text(messages) + reply + (self.tokenizer.eos_token or "")
        return self.tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": reply}],
                                                  tokenize=False, date_string=self.TEMPLATE_DATE)
