"""Reading the option letter out of a free-form reply (the single-turn baselines, API models).

The rule, the same for every letter:

1. A reply in our protocol (`<think>...</think><answer>X</answer>`) gives X.
2. A reply that opens with an option label gives its letter: "B. A cat sits on the mat.", "(B) the
   cat", "**B**", "B)" or "B:", however the option's text goes on (an echoed option often starts with
   "A" or holds "Plan B"), as lmms-eval reads the leading label.
3. Otherwise the reply names an option when an option letter stands alone in it: an upper-case letter
   that touches no other letter, digit or underscore ("C", "answer: C", "答案是C"), and is not part of a
   dotted abbreviation ("E.g.", "I.e.", "D.E." name no option).
4. Exactly one distinct letter named: that letter. None or several ("A or B", "A is right, B is wrong"):
   no answer. An unread reply is counted as unparsed, never replaced by a guess.

So "A man sits down." names A, as a VLMEvalKit-style reader would also read it; a reply that says
"A man sits down, so the answer is B" names two options and is unparsed. Lower-case letters never count:
"a" is an article.
"""

from __future__ import annotations

import re

from sparse_video_r1.agent.protocol import Answer, parse_reply

_ABBREVIATION = re.compile(r"[A-Za-z]\.[A-Za-z]")  # "E.g", "D.E"
_LABEL = re.compile(
    r"\s*(?:\(([A-Z])\)|\[([A-Z])\]|\*\*([A-Z])\*\*|([A-Z])[.):])"
)  # "(B)", "[B]", "**B**", "B."


def named_letters(reply: str, letters: str) -> set[str]:
    """The option letters a reply names on their own (rule 2)."""
    standalone = re.compile(rf"(?<![A-Za-z0-9_])[{re.escape(letters)}](?![A-Za-z0-9_])")
    return {
        match.group() for match in standalone.finditer(reply) if not _in_abbreviation(reply, match.start())
    }


def _in_abbreviation(text: str, at: int) -> bool:
    """The letter at `at` starts ("E.g") or ends ("D.E") a letter-dot-letter run."""
    return bool(_ABBREVIATION.match(text, at) or (at >= 2 and _ABBREVIATION.match(text, at - 2)))


def read_letter(reply: str, letters: str) -> str | None:
    """The option letter a free-form reply gives, or None (see the module's rule)."""
    action = parse_reply(reply, letters)
    if isinstance(action, Answer):
        return action.letter
    label = _LABEL.match(reply)
    if label and not _in_abbreviation(reply, label.end() - 2):
        letter = next(group for group in label.groups() if group)
        if letter in letters:
            return letter
    named = named_letters(reply, letters)
    return named.pop() if len(named) == 1 else None
