"""Any model behind an OpenAI-compatible server (`vllm serve`, llama.cpp's server, a hosted API).

Prompts go to the completions endpoint as the token ids rendered here with the local tokenizer, so the
server scores exactly the tokens the in-process engines score. Label log-probs use vLLM's
`logprob_token_ids` (the full-vocabulary log-prob of exactly the label tokens); top-k `logprobs` alone
would drop labels outside the top k, so a server without that option is not trusted for them: the run
samples and parses instead (`scoring` says which). The key comes from an environment variable only.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from bench.engines.base import Engine
from bench.engines.registry import Option, register_engine
from bench.errors import BenchError

LOGPROB_MODES = ("auto", "logprobs", "sample")
SCORINGS = {"logprobs": "logprobs", "sample": "sample-fallback"}  # what provenance records
NO_KEY = "EMPTY"  # what a server without auth (vllm serve, llama.cpp) is sent when the variable is unset


class ServerError(BenchError):
    """An OpenAI-compatible server that cannot be reached, or that does not do what the config asks."""


def public_url(url: str) -> str:
    """The server URL without user:password (what provenance may record)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def token_key(token_id: int) -> str:
    """How vLLM names a token in `top_logprobs` when asked `return_tokens_as_token_ids`."""
    return f"token_id:{int(token_id)}"


def url_problem(url: str) -> str | None:
    """An http(s) URL with a host and no credentials (config.yaml and provenance keep it)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host, e.g. http://localhost:8000/v1"
    if parts.username or parts.password:
        return "must hold no user or password; put the key in the environment variable that engine.api_key_env names"
    try:
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError:
        return "has a port that is not a number in 0..65535"
    return None


def url_shown(url) -> str:
    """A URL for a message: with credentials, only that it had them."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is not None and (parts.username or parts.password):
        return f"{parts.scheme}://<credentials>@{parts.hostname}"
    return url


def env_name_problem(name: str) -> str | None:
    """The name of an environment variable, not the key itself (which would land in config.yaml)."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return None
    return ("must be the name of an environment variable (letters, digits, _), e.g. OPENAI_API_KEY; the key "
            "itself goes in that variable")


OPTIONS = {
    "base_url": Option("text", "the server's OpenAI-compatible URL, e.g. http://localhost:8000/v1", rule=url_problem,
                       shown=url_shown, required=True, needed="engine openai needs the server's URL, e.g. http://localhost:8000/v1"),
    "model_name": Option("text", "the served model's name; null asks the server's /v1/models (one model)",
                         optional=True),
    "api_key_env": Option("text", "the environment variable holding the key (the key never goes in a config)",
                          rule=env_name_problem, hidden=True),
    "timeout": Option("number", "seconds per request", low=0, low_open=True),
    "max_retries": Option("int", "retries of a failed request", low=0),
    "logprobs": Option("choice", "auto: exact label log-probs when the server gives them, else sample + parse",
                       choices=LOGPROB_MODES),
    "concurrency": Option("int", "requests in flight at once when sampling", low=1),
}


@register_engine("openai", OPTIONS)
class OpenAIEngine(Engine):
    """A model behind an OpenAI-compatible server (`vllm serve`, llama.cpp), sent the same token ids."""

    def __init__(self, spec, seed: int = 0, base_url: str | None = None, model_name: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", timeout: float = 600.0, max_retries: int = 2,
                 logprobs: str = "auto", concurrency: int = 8, **options):
        super().__init__(spec, seed=seed, **options)
        from openai import OpenAI

        self.base_url = public_url(base_url)
        self.concurrency = int(concurrency)
        self.client = OpenAI(base_url=base_url, api_key=os.environ.get(api_key_env) or NO_KEY,
                             timeout=float(timeout), max_retries=int(max_retries))
        self.model_name = model_name or self._served_model()
        self.scoring = SCORINGS["sample"] if logprobs == "sample" else self._probe(logprobs == "logprobs")

    # -- start-up: is there a server, which model, does it give label log-probs ----------------------
    def _served_model(self) -> str:
        """The one model the server lists (engine.model_name picks one when it lists several)."""
        import openai

        try:
            names = [m.id for m in self.client.models.list()]
        except openai.APIConnectionError as err:
            raise ServerError(f"engine.base_url={self.base_url}: no server answered ({err}); start one "
                              "(e.g. `vllm serve <model folder>`) or fix the URL") from None
        except openai.AuthenticationError:
            raise ServerError(f"engine.base_url={self.base_url}: the server refused the key; put it in the "
                              "environment variable named by engine.api_key_env") from None
        except openai.APIStatusError as err:
            raise ServerError(f"engine.base_url={self.base_url}: GET /models answered {err.status_code}; "
                              "is this an OpenAI-compatible /v1 URL?") from None
        if len(names) != 1:
            raise ServerError(f"engine.model_name=null: the server at {self.base_url} serves "
                              f"{len(names)} models ({', '.join(names) or 'none'}); name one")
        return names[0]

    def _probe(self, required: bool) -> str:
        """One tiny request with the exact label option; a server that refuses or ignores it samples."""
        one = self.tokenizer.encode("1", add_special_tokens=False)
        try:
            self._exact([one], one)
            return SCORINGS["logprobs"]
        except ServerError as err:
            if required:
                raise ServerError(f"engine.logprobs=logprobs: {err}; use engine.logprobs=auto or sample "
                                  "to sample answers and parse them") from None
            return SCORINGS["sample"]

    # -- the two engine calls ------------------------------------------------------------------------
    def _exact(self, prompts, label_ids) -> list[list[float]]:
        """Full-vocabulary log-probs of the label tokens as the next token, one batched request."""
        import openai

        try:
            out = self.client.completions.create(
                model=self.model_name, prompt=[list(p) for p in prompts], max_tokens=1, temperature=0.0,
                logprobs=1, extra_body={"logprob_token_ids": list(label_ids), "return_tokens_as_token_ids": True})
        except openai.BadRequestError as err:
            raise ServerError(f"the server at {self.base_url} refused label log-probs ({err.status_code})") from None
        except openai.APIError as err:
            raise ServerError(f"engine.base_url={self.base_url}: the request failed ({err})") from None
        rows: list[list[float] | None] = [None] * len(prompts)
        for choice in out.choices:
            top = (choice.logprobs.top_logprobs or [None])[0] if choice.logprobs else None
            missing = [t for t in label_ids if token_key(t) not in (top or {})]
            if missing:
                raise ServerError(f"the server at {self.base_url} gave no log-prob for label token(s) {missing}")
            rows[choice.index] = [float(top[token_key(t)]) for t in label_ids]
        if any(r is None for r in rows):
            raise ServerError(f"the server at {self.base_url} answered {len(out.choices)} of {len(prompts)} prompts")
        return rows

    def label_logprobs(self, prompts, label_ids, keep_rows: bool = False):  # the server's prefix cache keeps rows
        """The server's exact label log-probs; refused when this server only samples, since a caller asking for
        them cannot use sampled answers."""
        if self.scoring != SCORINGS["logprobs"]:
            raise ServerError(f"engine openai at {self.base_url} samples (engine.logprobs or the server gives "
                              "no label log-probs); this tool needs them: use scoring=sample or a vLLM server")
        return np.asarray(self._exact(prompts, label_ids), dtype=np.float64)

    def generate(self, prompts, temperature, max_new_tokens, seeds):
        """One completion request per prompt, each with its own seed, sent concurrently (the server batches
        them)."""
        import openai

        def one(job):
            prompt, s = job
            try:
                out = self.client.completions.create(model=self.model_name, prompt=list(prompt),
                                                     max_tokens=int(max_new_tokens), temperature=float(temperature),
                                                     top_p=1.0, seed=int(s))
            except openai.APIError as err:
                raise ServerError(f"engine.base_url={self.base_url}: the request failed ({err})") from None
            return out.choices[0].text

        # One request per prompt, each with its own seed; the server batches concurrent requests itself.
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            return list(pool.map(one, list(zip(prompts, seeds))))

    def provenance(self) -> dict:
        """What the run records about the server (never the key)."""
        return {"engine_scoring": self.scoring, "engine_server": self.base_url, "engine_model": self.model_name}

    def close(self):
        """Close the HTTP client (the server keeps running)."""
        self.client.close()
