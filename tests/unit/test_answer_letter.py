"""Reading a free-form reply's option letter: one rule, the same for every letter, never a guess.

The shapes come from what models actually write and from the cases lmms-eval's and VLMEvalKit's answer
extraction handle (bare letters, parentheses, markdown, "The answer is", explanations after the letter).
"""

from __future__ import annotations

import pytest

from sparse_video_r1.evaluation.answer_letter import read_letter

REPLIES = [
    # a bare letter, however decorated
    ("C", "C"),
    ("C.", "C"),
    (" C\n", "C"),
    ("(C)", "C"),
    ("[C]", "C"),
    ("**C**", "C"),
    ("C)", "C"),
    ("C: the man reads", "C"),
    ("C. The man reads a book.", "C"),
    ("(C) the man reads a book", "C"),
    ("Option C", "C"),
    ("Answer: C", "C"),
    ("The answer is C.", "C"),
    ("The best answer is C", "C"),
    ("The correct option is (C).", "C"),
    ("Best option: C - reads", "C"),
    ("答案是C", "C"),
    ("C\n\nExplanation: he picks up the book after sitting down.", "C"),
    # our protocol, also from a trained model used as a baseline
    ("<think>he reads</think><answer>D</answer>", "D"),
    ("<think>A or D? D.</think><answer>D</answer>", "D"),
    # the same sentence gives the same reading whatever the letter (the old rule penalised A)
    ("The answer is A because he eats", "A"),
    ("The answer is B because he eats", "B"),
    ("A", "A"),
    ("A man sits down.", "A"),
    # a leading option label wins, whatever the echoed option's text names
    ("B. A cat sits on the mat.", "B"),
    ("(D) Plan B", "D"),
    ("**C** A dog barks", "C"),
    ("E: A or B would be wrong", "E"),
    ("B. Not A.", "B"),
    ("(A) eats (B) reads", "A"),
    # abbreviations name no option
    ("E.g., the man reads, so the answer is B.", "B"),
    ("I.e. B.", "B"),
    ("D.E.", None),
    # more than one option named: no answer
    ("A is correct, B is wrong", None),
    ("A or B", None),
    ("B or C", None),
    ("Either C or D.", None),
    ("A man sits down, so the answer is B.", None),
    # no option named
    ("", None),
    ("   ", None),
    ("He reads a book.", None),
    ("Cat", None),
    ("CD", None),
    ("C3", None),
    ("c", None),
    ("the answer is b", None),
    ("F", None),
    ("<think>x</think><answer>F</answer>", None),
]


def test_the_table_is_large_enough_to_mean_something():
    assert len(REPLIES) >= 30


@pytest.mark.parametrize(("reply", "letter"), REPLIES)
def test_a_reply_reads_as_the_one_option_it_names(reply, letter):
    assert read_letter(reply, "ABCDE") == letter


@pytest.mark.parametrize(("reply", "letter"), [(r, x) for r, x in REPLIES if x and "<" not in r])
def test_the_rule_is_the_same_for_every_letter(reply, letter):
    """Put any other letter where the reply's letter stands: it reads as that letter."""
    for other in "ABCDE":
        if other in reply.replace(letter, ""):
            continue  # the reply already names that letter elsewhere
        assert read_letter(reply.replace(letter, other), "ABCDE") == other, reply


def test_only_the_question_s_letters_count():
    assert read_letter("D", "ABC") is None
    assert read_letter("The answer is C", "ABC") == "C"
