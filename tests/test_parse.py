"""parse_answer maps real-looking model outputs to the shown option position, or to invalid."""

from __future__ import annotations

import pytest

from bench.administration.parse import ParsedAnswer, parse_answer
from bench.instruments import load_inventory

BFI = ["Disagree strongly", "Disagree a little", "Neither agree nor disagree", "Agree a little", "Agree strongly"]
IPIP6 = ["Very inaccurate", "Moderately inaccurate", "Slightly inaccurate",
         "Slightly accurate", "Moderately accurate", "Very accurate"]


def test_labels_are_the_shipped_bfi_scale():
    # The table below is only meaningful if it uses the scale the harness really shows.
    assert list(load_inventory("bfi").scale.labels) == BFI


VALID = [
    ("4", 4),
    (" 4", 4),
    ("4\n", 4),
    ("4 = Agree a little", 4),
    ("4.", 4),
    ("(4)", 4),
    ("**4**", 4),
    ('"2"', 2),
    ("Answer: 4", 4),
    ("- 4 = Agree a little", 4),  # markdown bullet
    ("1", 1),
    ("5", 5),
    ("I would choose 4", 4),
    ("My answer is 2", 2),
    ("I'd say 3 because I am sometimes talkative and sometimes quiet.", 3),
    ("Agree a little", 4),
    ("agree strongly!", 5),
    ("Disagree strongly", 1),  # contains "agree strongly": the longer label must win
    ("Disagree a little.", 2),
    ("Neither agree nor disagree", 3),
    ("On a scale of 1 to 5 I would choose 4", 4),
    ("On a scale from 1 to 5, I'd rate this as 2", 2),
    ("4/5", 4),
    ("I would rate myself a 4 out of 5", 4),
    ("Option 4: Agree a little", 4),
    ("Agree a little (4)", 4),
    ("4\n\nExplanation: I enjoy talking with 5 or 6 friends at a time.", 4),
    ("As an AI I don't have feelings, but I'd say 3", 3),
]

@pytest.mark.parametrize("text,position", VALID)
def test_valid_answers(text, position):
    got = parse_answer(text, BFI)
    assert got == ParsedAnswer(position, refusal=False)
    assert got.valid


INVALID = [
    "7",
    "0",
    "6",
    "10",
    "",
    None,
    "   ",
    "\n\t",
    "asdf",
    "\U0001F914\U0001F642",
    "\x00\xff",
    "\x00\x01\x02\xfe\xff" * 50,
    "lorem ipsum " * 20000,
    "between 2 and 4",
    "2 or 4",
    "1-5: 4",  # a range, then 4, then nothing that says which one is the answer
    "2-3",
    "Agree",  # a prefix of several labels, not one of them
]


@pytest.mark.parametrize("text", INVALID, ids=lambda t: repr(t)[:30])
def test_invalid_answers(text):
    got = parse_answer(text, BFI)
    assert got.position is None
    assert not got.valid
    assert got.refusal is False


@pytest.mark.parametrize("text", [
    "I'm sorry, but as an AI I cannot answer that.",
    "I cannot provide personal opinions.",
    "As an AI language model, I don't have personal experiences.",
    "I'm unable to answer questions about myself.",
    "I prefer not to answer.",
    "I'm not able to say how I would feel.",
])
def test_refusals_are_invalid_and_flagged(text):
    got = parse_answer(text, BFI)
    assert got == ParsedAnswer(None, refusal=True)
    assert not got.valid


def test_range_prefix_is_not_the_answer():
    # "1 to 5" scale echoes must not be read as the answer 1.
    assert parse_answer("1 to 5 scale: I'd say 4", BFI).position == 4
    assert parse_answer("1-5: 4", BFI).position is None


def test_cue_followed_by_two_alternatives_is_invalid():
    assert parse_answer("I would choose 2 or 4", BFI).position is None


@pytest.mark.parametrize("text,position", [
    ("6", 6),
    ("5", 5),
    ("I would choose 6", 6),
    ("Slightly accurate", 4),
    ("Slightly inaccurate", 3),
    ("Moderately inaccurate", 2),
    ("very accurate.", 6),
    ("Very inaccurate", 1),
])
def test_six_point_scale(text, position):
    assert parse_answer(text, IPIP6).position == position


@pytest.mark.parametrize("text", ["7", "0", "inaccurate", "accurate"])
def test_six_point_scale_invalid(text):
    assert parse_answer(text, IPIP6).position is None


def test_six_is_out_of_range_on_five_but_in_range_on_six():
    assert parse_answer("6", BFI).position is None
    assert parse_answer("6", IPIP6).position == 6


def test_label_text_uses_presented_order_when_reversed():
    shown = list(reversed(BFI))  # position 1 = "Agree strongly", ..., 5 = "Disagree strongly"
    assert parse_answer("Agree strongly", shown).position == 1
    assert parse_answer("Agree a little", shown).position == 2
    assert parse_answer("Neither agree nor disagree", shown).position == 3
    assert parse_answer("Disagree a little", shown).position == 4
    assert parse_answer("Disagree strongly", shown).position == 5
    # A number is a position as shown, whatever the label order.
    assert parse_answer("2", shown).position == 2


def test_label_text_uses_presented_order_when_shuffled():
    order = [2, 4, 0, 3, 1]
    shown = [BFI[i] for i in order]
    for pos, canon in enumerate(order, 1):
        assert parse_answer(f"I pick: {BFI[canon].lower()}", shown).position == pos


def test_curly_apostrophe_refusal_is_flagged():
    parsed = parse_answer("I\u2019m unable to answer that.", BFI)
    assert parsed.position is None and parsed.refusal
