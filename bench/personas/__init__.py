"""Personas: who the model is asked to be. Explicit sets, roles x trait poles, a person's own writing
(RAG, profile), demographic personas of sampled respondents, and model-written backstories; all built
by `build_personas` for the run pipeline."""

from bench.personas.model import Persona, PersonaError
from bench.personas.sets import CONDITIONING_METHODS, build_personas, expand_personas, select_personas

__all__ = ["CONDITIONING_METHODS", "Persona", "PersonaError", "build_personas", "expand_personas", "select_personas"]
