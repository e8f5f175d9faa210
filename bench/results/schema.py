"""The typed schemas of the responses table (every part file and responses.parquet share it) and of the
prompt texts kept beside it (prompts parts and prompts.parquet)."""

from __future__ import annotations

import hashlib

import pyarrow as pa

RESPONSE_SCHEMA = pa.schema([
    # the simulated participant (one combination of the non-item factors)
    ("participant_id", pa.string()), ("persona_id", pa.string()), ("persona_target", pa.string()),
    ("template_id", pa.string()), ("option_order", pa.string()), ("temperature", pa.float64()),
    ("repetition", pa.int64()), ("participant_seed", pa.int64()),
    # the item and what was shown
    ("item_id", pa.string()), ("item_index", pa.int64()), ("trait", pa.string()), ("facet", pa.string()),
    ("keyed", pa.int64()),
    ("prompt_hash", pa.string()), ("option_permutation", pa.list_(pa.int64())),
    # the answer
    ("raw_answer", pa.string()), ("parsed_option", pa.int64()), ("answer", pa.float64()),
    ("score", pa.float64()), ("option_probs", pa.list_(pa.float64())), ("expected_score", pa.float64()),
    ("label_mass", pa.float64()), ("invalid", pa.bool_()), ("refusal", pa.bool_()),
    # provenance (full record in provenance.json)
    ("run_config_hash", pa.string()), ("model_id", pa.string()), ("model_sha256", pa.string()),
    ("adapter_sha256", pa.string()), ("engine", pa.string()), ("scoring_mode", pa.string()),
    ("administration", pa.string()), ("inventory_id", pa.string()), ("inventory_version", pa.string()),
    ("persona_set", pa.string()), ("seed", pa.int64()), ("env_hash", pa.string()), ("git_commit", pa.string()),
])


def response_table(rows: list[dict]) -> pa.Table:
    """Rows -> a table of exactly RESPONSE_SCHEMA; a missing or extra column is a bug, not data."""
    names = set(RESPONSE_SCHEMA.names)
    for row in rows:
        if set(row) != names:
            raise ValueError(f"response row columns differ from the schema: missing {sorted(names - set(row))}, "
                             f"extra {sorted(set(row) - names)}")
    return pa.Table.from_pylist(rows, schema=RESPONSE_SCHEMA)


# Each distinct rendered prompt once, keyed by the responses' prompt_hash (sha256 of the text, 16 hex digits),
# so an answer can be audited without rendering it again and responses stay small.
PROMPT_SCHEMA = pa.schema([("prompt_hash", pa.string()), ("text", pa.string()), ("n_tokens", pa.int64())])


def prompt_hash(text: str) -> str:
    """What a response row names its prompt by; prompts.parquet keys the text by it."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def prompt_table(rendered) -> pa.Table:
    """(text, token ids) pairs -> one row per distinct text, in first-seen order."""
    rows: dict[str, dict] = {}
    for text, ids in rendered:
        h = prompt_hash(text)
        if h not in rows:
            rows[h] = {"prompt_hash": h, "text": text, "n_tokens": len(ids)}
    return pa.Table.from_pylist(list(rows.values()), schema=PROMPT_SCHEMA)
