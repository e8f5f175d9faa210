"""Behavioural personality: participants write texts from writing prompts, and rater models rate the
texts with the observer-report form of the inventory (what a persona does, beside what it says)."""

from bench.behaviour.rating import RATING_SCHEMA, Rater, rating_template
from bench.behaviour.texts import TEXT_SCHEMA, WritingPrompt, Writer, writing_prompts

__all__ = ["RATING_SCHEMA", "Rater", "TEXT_SCHEMA", "Writer", "WritingPrompt", "rating_template", "writing_prompts"]
