"""The typed schemas of every Hydra config, stored in Hydra's ConfigStore.

Each yaml extends its schema through its defaults list (`- base_config`, `- /schema/model/gguf@_here_`),
Hydra's documented pattern, so OmegaConf itself refuses a wrong type (`seed=abc`) or an unknown key on
the command line. Ranges, files and names are checked in Python by `bench.config.validate`.

The yaml holds the values (every field here is MISSING until a yaml sets it); the schema holds the
types. Every field matches a key of the shipped yaml exactly: a field that a yaml lacked would appear in the
composed config and change the config hash of runs made before the schema existed. That is why
heterogeneous groups (persona sets, engines, prompts) stay `Any` here, and why models and populations
get one schema per shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING


# -- groups of the run config ---------------------------------------------------------------------

@dataclass
class ModelSchema:
    """A model that is a local HF folder (`source: path`)."""
    id: str = MISSING
    source: str = MISSING
    path: Optional[str] = MISSING
    dtype: str = MISSING
    max_model_len: int = MISSING
    requires_adapter: bool = MISSING


@dataclass
class GgufModelSchema(ModelSchema):
    """A model carried as a GGUF file inside a PyPI package (`source: pypi_gguf`), or assembled by one from
    its chunk packages (`source: pypi_gguf_assembled`)."""
    package: Optional[str] = MISSING
    gguf_file: Optional[str] = MISSING


@dataclass
class InventorySchema:
    """A shipped inventory by name, or a user's YAML file by path."""
    name: str = MISSING
    path: Optional[str] = MISSING


@dataclass
class PsychoBenchInventorySchema(InventorySchema):
    """One scale of PsychoBench's questionnaires.json (`inventory=psychobench`)."""
    scale: str = MISSING


@dataclass
class PopulationChoiceSchema:
    """`auto` and `none`: a name, or the path of the user's own population file (which replaces it)."""
    name: str = MISSING
    # added after runs were made: a saved config.yaml (or a plain dict) without them is still a population
    path: Optional[str] = None
    missing: Optional[List[Any]] = None


@dataclass
class CountsPopulationSchema(PopulationChoiceSchema):
    """A human reference of answer counts (OpinionQA): no respondents, so no demographics."""
    reference: Dict[str, Any] = MISSING
    instrument: Optional[str] = MISSING
    temperature: float = MISSING
    split_half: int = MISSING
    seed: int = MISSING


@dataclass
class RespondentsPopulationSchema(CountsPopulationSchema):
    """A human reference of individual respondents, sampled for demographic personas and matching."""
    demographics: Optional[str] = MISSING
    attributes: Dict[str, Any] = MISSING
    sample: int = MISSING


# -- the run and the tools built on it ------------------------------------------------------------

@dataclass
class RunSchema:
    """`persona-bench run`: what a run computes, where it writes (results_dir, run_name, progress), and over how
    many processes (workers, worker; added later, so a saved config without them is still a run config)."""
    model: Any = MISSING
    inventory: Any = MISSING  # typed by its shape (INVENTORY_SCHEMAS) when validated
    persona: Dict[str, Any] = MISSING
    population: Any = MISSING
    engine: Dict[str, Any] = MISSING
    prompt: Dict[str, Any] = MISSING
    adapter: Optional[str] = MISSING
    scoring: str = MISSING
    administration: str = MISSING
    templates: Optional[List[str]] = MISSING
    option_orders: List[str] = MISSING
    temperatures: List[float] = MISSING
    repetitions: int = MISSING
    seed: int = MISSING
    batch_size: int = MISSING
    max_items: Optional[int] = MISSING
    max_new_tokens: int = MISSING
    results_dir: str = MISSING
    run_name: Optional[str] = MISSING
    progress: bool = MISSING
    workers: Optional[int] = None
    worker: Optional[int] = None


@dataclass
class FidelityTableSection:
    """The `fidelity_table` section of `persona-bench fidelity-table`: the conditioning methods to run
    (null: every one)."""
    methods: Optional[List[str]] = MISSING


@dataclass
class FidelityTableSchema(RunSchema):
    """`persona-bench fidelity-table`: the run config plus the methods to compare."""
    fidelity_table: FidelityTableSection = field(default_factory=FidelityTableSection)


@dataclass
class TVCheckSection:
    """The `tv_check` section of `persona-bench tv-check`: the sampling temperature, draws per prompt, and
    how many conditions are checked."""
    temperature: float = MISSING
    samples: int = MISSING
    conditions: int = MISSING


@dataclass
class TVCheckSchema(RunSchema):
    """`persona-bench tv-check`: the run config plus the sampling check's settings."""
    tv_check: TVCheckSection = field(default_factory=TVCheckSection)


@dataclass
class ValiditySection:
    """The `validity` section of `persona-bench validity`: the inventories, their traits' common names, an
    optional behaviour run's scores, and the test level."""
    inventories: List[str] = MISSING
    trait_map: Dict[str, Any] = MISSING
    behaviour: Optional[str] = MISSING
    alpha: float = MISSING


@dataclass
class ValiditySchema(RunSchema):
    """`persona-bench validity`: the run config, given once per inventory, plus the MTMM settings."""
    validity: ValiditySection = field(default_factory=ValiditySection)


@dataclass
class NormsTableSection:
    """The `norms_table` section of `persona-bench norms-table`: shipped instruments with norms and/or
    PsychoBench scales read from `path`."""
    inventories: Optional[List[str]] = MISSING
    path: Optional[str] = MISSING
    scales: Optional[List[str]] = MISSING


@dataclass
class NormsTableSchema(RunSchema):
    """`persona-bench norms-table`: the run config, given once per instrument, plus the instruments."""
    norms_table: NormsTableSection = field(default_factory=NormsTableSection)


@dataclass
class BehaviourSection:
    """The `behaviour` section of `persona-bench behaviour`: writing prompts and generation, rating orders
    and templates, the self-report compared with, and whether texts are published."""
    prompts: List[Dict[str, Any]] = MISSING
    copies: int = MISSING
    max_new_tokens: int = MISSING
    temperature: Optional[float] = MISSING
    rating_orders: List[str] = MISSING
    rating_templates: Dict[str, str] = MISSING
    self_report: str = MISSING
    min_n: int = MISSING
    publish_texts: bool = MISSING


@dataclass
class BehaviourSchema(RunSchema):
    """`persona-bench behaviour`: the run config plus its raters (model entries; null: the run's model)
    and the behavioural section."""
    rater: Any = None
    rater2: Any = None
    behaviour: BehaviourSection = field(default_factory=BehaviourSection)


@dataclass
class CompareSection:
    """The `compare` section of `persona-bench compare`: the model entries to run, finished run folders to
    add, and the test level."""
    models: List[Any] = MISSING
    runs: List[str] = MISSING
    alpha: float = MISSING


@dataclass
class CompareSchema(RunSchema):
    """`persona-bench compare`: the run config, given once per model, plus the models and run folders."""
    compare: CompareSection = field(default_factory=CompareSection)


# -- clones ---------------------------------------------------------------------------------------

@dataclass
class CloneCorpusSchema:
    """The `corpus` section of `persona-bench clone train` and `clone report`: the person's text table, its
    columns, the author(s), and the held-out share."""
    path: Optional[str] = MISSING
    text_column: str = MISSING
    date_column: Optional[str] = MISSING
    prompt_column: Optional[str] = MISSING
    author_column: Optional[str] = MISSING
    id_column: Optional[str] = MISSING
    author: Optional[str] = MISSING
    authors: Optional[List[str]] = MISSING
    min_documents: Optional[int] = MISSING
    label_column: Optional[str] = MISSING
    sep: Optional[str] = MISSING
    encoding: Optional[str] = MISSING
    max_documents: Optional[int] = MISSING
    held_out: float = MISSING


@dataclass
class LoraSchema:
    """The `lora` section of `persona-bench clone train`: the adapter's rank, scaling, dropout and target
    modules."""
    r: int = MISSING
    alpha: int = MISSING
    dropout: float = MISSING
    target_modules: List[str] = MISSING


@dataclass
class DPSchema:
    """The `train.dp` section of `persona-bench clone train`: differentially private training (a target
    epsilon or a noise multiplier)."""
    enabled: bool = MISSING
    target_epsilon: Optional[float] = MISSING
    noise_multiplier: Optional[float] = MISSING
    max_grad_norm: float = MISSING
    delta: Optional[float] = MISSING


@dataclass
class TrainSchema:
    """The `train` section of `persona-bench clone train`: the optimiser, early stopping on validation
    loss, and `dp`."""
    batch_size: int = MISSING
    lr: float = MISSING
    weight_decay: float = MISSING
    grad_clip: float = MISSING
    max_steps: int = MISSING
    eval_every: int = MISSING
    patience: int = MISSING
    min_delta: float = MISSING
    max_eval_documents: int = MISSING
    dp: DPSchema = field(default_factory=DPSchema)


@dataclass
class CloneReportSchema:
    """The `report` section of `persona-bench clone report`: the adapter and self-report, the arms and their
    harness overrides, and the style and language-model settings."""
    adapter: Optional[str] = MISSING
    self_report: Optional[str] = MISSING
    self_report_sep: Optional[str] = None  # null: detected
    self_report_encoding: Optional[str] = None  # null: UTF-8
    inventory: str = MISSING
    mbti_inventory: Optional[str] = MISSING
    engine: str = MISSING
    arms: List[str] = MISSING
    harness: List[str] = MISSING
    style_prompts: int = MISSING
    style_prefix_words: int = MISSING
    style_max_new_tokens: int = MISSING
    style_temperature: float = MISSING
    max_lm_documents: int = MISSING
    rag_k: int = MISSING
    profile_passages: int = MISSING
    run_name: Optional[str] = MISSING


@dataclass
class CloneSchema:
    """`persona-bench clone train` and `clone report` (its `report` section)."""
    model: Any = MISSING
    corpus: CloneCorpusSchema = field(default_factory=CloneCorpusSchema)
    format: str = MISSING
    instruction: str = MISSING
    max_length: int = MISSING
    seed: int = MISSING
    lora: LoraSchema = field(default_factory=LoraSchema)
    train: TrainSchema = field(default_factory=TrainSchema)
    output_dir: Optional[str] = MISSING
    results_dir: str = MISSING
    progress: bool = MISSING
    report: CloneReportSchema = field(default_factory=CloneReportSchema)


# -- leaderboard ----------------------------------------------------------------------------------

@dataclass
class PublishSchema:
    """The `publish` section of `persona-bench leaderboard`: where the pages go (a GitHub Pages repo and
    branch, a Hugging Face repo)."""
    gh_pages_repo: Optional[str] = MISSING
    branch: str = MISSING
    hf_repo: Optional[str] = MISSING


@dataclass
class LeaderboardSchema:
    """`persona-bench leaderboard`."""
    runs: List[str] = MISSING
    out: str = MISSING
    title: str = MISSING
    plots: bool = MISSING
    publish: PublishSchema = field(default_factory=PublishSchema)


# -- registration ---------------------------------------------------------------------------------

# config name -> the schema its composed config must satisfy (what `validate` merges a plain dict into)
SCHEMAS = {
    "config": RunSchema,
    "fidelity_table": FidelityTableSchema,
    "tv_check": TVCheckSchema,
    "validity": ValiditySchema,
    "norms_table": NormsTableSchema,
    "behaviour": BehaviourSchema,
    "compare": CompareSchema,
    "clone": CloneSchema,
    "leaderboard": LeaderboardSchema,
}
MODEL_SCHEMAS = {"gguf": GgufModelSchema, "path": ModelSchema}
INVENTORY_SCHEMAS = {"file": InventorySchema, "psychobench": PsychoBenchInventorySchema}
POPULATION_SCHEMAS = {"choice": PopulationChoiceSchema, "counts": CountsPopulationSchema,
                      "respondents": RespondentsPopulationSchema}


def register() -> None:
    """Store every schema where the yaml defaults lists name them (`base_<config>`, `schema/<group>/<shape>`).

    Idempotent: storing the same node again replaces it.
    """
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    for name, schema in SCHEMAS.items():
        cs.store(name=f"base_{name}", node=schema)
    for name, schema in MODEL_SCHEMAS.items():
        cs.store(group="schema/model", name=name, node=schema)
    for name, schema in POPULATION_SCHEMAS.items():
        cs.store(group="schema/population", name=name, node=schema)
    for name, schema in INVENTORY_SCHEMAS.items():
        cs.store(group="schema/inventory", name=name, node=schema)
