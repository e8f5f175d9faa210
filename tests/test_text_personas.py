"""Personas from a person's writing: BM25 passages per item, an extractive profile, held-out text unseen."""

from __future__ import annotations

import pytest

from bench.administration import Template, build_plan
from bench.administration.prompts import messages_for
from bench.instruments import load_inventory
from bench.personas import Persona, expand_personas
from bench.writing.corpus import Document
from bench.writing.retrieval import BM25Retriever, tokenize
from tests.conftest import compose

POSTS = [
    "I love being the life of the party, talkative and loud with everyone!",
    "Worried again tonight. Anxious about everything, cannot sleep.",
    "My desk is perfectly organised, every task planned and done on time.",
    "Visited the art museum, such imaginative paintings and new ideas.",
    "Helping my neighbours with their garden, kindness matters.",
    "Another post about the weather and nothing else.",
]


@pytest.fixture
def corpus_csv(tmp_path):
    path = tmp_path / "posts.csv"
    rows = [f'"{t}",2021-01-{i + 1:02d},ann' for i, t in enumerate(POSTS)]
    rows += ['"Bob writes about trains and timetables.",2021-01-01,bob',
             '"Bob again: more trains.",2021-01-02,bob']
    path.write_text("text,date,who\n" + "\n".join(rows) + "\n")
    return path


def persona_cfg(kind: str, path, *extra: str) -> dict:
    return compose(f"persona={kind}", f"persona.corpus.path={path}", "persona.k=1", *extra)["persona"]


def test_bm25_finds_the_relevant_passage_and_ignores_urls():
    docs = [Document(str(i), t) for i, t in enumerate(POSTS)]
    r = BM25Retriever(docs)
    assert r.top("Is someone who is talkative", 1)[0].text == POSTS[0]
    assert r.top("worries a lot, anxious", 1)[0].text == POSTS[1]
    assert tokenize("see http://x.co/abc THE Trains") == ["see", "trains"]
    r.add([Document("new", "Now I collect rare stamps.")])  # the person wrote more
    assert r.top("stamps", 1)[0].id == "new"


def test_rag_persona_holds_each_items_passages(corpus_csv):
    inv = load_inventory("bfi")
    (p,) = expand_personas(persona_cfg("rag", corpus_csv, "persona.corpus.author_column=who",
                                       "persona.corpus.author=ann", "persona.name=Ann"), inv)
    assert p.id == "ann" and len(p.item_texts) == len(inv.items)
    talkative = inv.item("bfi_01")  # "is talkative"
    assert "talkative" in talkative.text
    assert POSTS[0] in p.text_for(talkative.id) and p.text_for(talkative.id).startswith("You are Ann.")
    assert len({t for _, t in p.item_texts}) > 1  # passages differ between items
    # the system turn of a question holds that question's passages
    plan = build_plan(inv, [p], [Template("t", "{item}")], ["original"], [0.0], 1, 0)
    msgs = messages_for(plan.participants[0], ["q"], [], "Answer: ", talkative.id)
    assert msgs[0] == {"role": "system", "content": p.text_for(talkative.id)}


def test_held_out_text_never_reaches_a_persona(corpus_csv):
    inv = load_inventory("bfi")
    for kind in ("rag", "profile"):
        (p,) = expand_personas(persona_cfg(kind, corpus_csv, "persona.corpus.author_column=who",
                                           "persona.corpus.author=ann", "persona.corpus.date_column=date",
                                           "persona.corpus.held_out=0.34", "persona.k=6"), inv)
        every = p.text + "".join(t for _, t in p.item_texts)
        assert POSTS[3] in every or POSTS[0] in every
        assert POSTS[4] not in every and POSTS[5] not in every  # the two latest posts are held out


def test_profile_persona_is_an_extractive_summary(corpus_csv):
    inv = load_inventory("bfi")
    (p,) = expand_personas(persona_cfg("profile", corpus_csv, "persona.corpus.author_column=who",
                                       "persona.corpus.author=ann", "persona.k=2"), inv)
    assert p.item_texts == () and "sentences of about" in p.text and "Words you use most:" in p.text
    assert sum(post in p.text for post in POSTS) == 2
    assert expand_personas(persona_cfg("profile", corpus_csv, "persona.corpus.author_column=who",
                                       "persona.corpus.author=ann", "persona.k=2"), inv) == (p,)  # deterministic


def test_one_persona_per_author(corpus_csv):
    ps = expand_personas(persona_cfg("rag", corpus_csv, "persona.corpus.author_column=who"), load_inventory("bfi"))
    assert [p.id for p in ps] == ["ann", "bob"]
    assert "trains" in ps[1].text_for("bfi_01") and "trains" not in ps[0].text_for("bfi_01")


def test_plain_personas_are_unchanged():
    p = Persona("x", "", "You are calm.")
    assert p.text_for("bfi_01") == p.text_for(None) == "You are calm."
    plan = build_plan(load_inventory("bfi"), [p], [Template("t", "{item}")], ["original"], [0.0], 1, 0)
    assert messages_for(plan.participants[0], ["q"], [], "Answer: ") == [
        {"role": "system", "content": "You are calm."}, {"role": "user", "content": "q"}]
    with pytest.raises(ValueError, match="needs the inventory"):
        expand_personas({"set": "rag", "kind": "rag", "corpus": {"path": "x"}})


def test_more_writing_gives_a_new_run_folder(corpus_csv):
    """The person writes more: the RAG persona's passages change, and so do the plan's persona hash
    and the default run folder (a rerun starts fresh instead of mixing two versions of the persona)."""
    from bench.pipelines.run import run_dir_for

    inv = load_inventory("bfi")
    cfg = compose("persona=rag", f"persona.corpus.path={corpus_csv}", "persona.k=1",
                  "persona.corpus.author_column=who", "persona.corpus.author=ann")

    def plan_now():
        personas = expand_personas(cfg["persona"], inv)
        return build_plan(inv, personas, [Template("t", "{item}")], ["original"], [0.0], 1, 0)

    before = plan_now()
    assert plan_now().personas_sha256() == before.personas_sha256()
    with corpus_csv.open("a") as fh:
        fh.write('"Talkative and loud at every party, I talk to everyone I meet!",2021-02-01,ann\n')
    after = plan_now()
    assert after.personas_sha256() != before.personas_sha256()
    assert run_dir_for(cfg, after.personas_sha256()) != run_dir_for(cfg, before.personas_sha256())
    assert run_dir_for(cfg, after.personas_sha256()).name.startswith(run_dir_for(cfg).name)
    plain = compose("persona=traits")
    assert run_dir_for(plain, "ab" * 32) == run_dir_for(plain)  # fixed personas keep their folder
