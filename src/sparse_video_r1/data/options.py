"""Options written inside a question's text, as LVBench and lmms-eval's prompts carry them, split out.

    What year is shown?            ->  ("What year is shown?", ("2013", "2014", "2015", "2016"))
    (A) 2013
    (B) 2014
    ...

An option is a line that starts with its letter, in order from A: "A. text", "A) text", "(A) text",
"A: text" or "[A] text". The question is the text before the first option; lines after the last option
(an instruction such as "Answer with the option's letter") belong to neither.
"""

from __future__ import annotations

import re

from sparse_video_r1.agent.protocol import OPTION_LETTERS

_OPTION = re.compile(r"^\s*(?:\(([A-Z])\)|\[([A-Z])\]|([A-Z])[.):])\s*(.*)$")


def split_options(text: str, max_options: int | None = len(OPTION_LETTERS)) -> tuple[str, tuple[str, ...]]:
    """(question, options) of a text whose options are lines "A. ...", "(B) ...", ...; ValueError when it
    holds fewer than two, or more than `max_options` (the protocol's letters A-E; None: no limit)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if (found := _letter(line)) is not None and found[0] == "A"]
    if not starts:
        raise ValueError("no option lines 'A. ...' or '(A) ...' found")
    runs = [(start, _run(lines[start:])) for start in starts]
    # The last run of two or more: lines such as "A: hello" in a transcript before the question are not it.
    first, options = next(((i, o) for i, o in reversed(runs) if len(o) >= 2), runs[-1])
    if len(options) < 2:
        raise ValueError(f"only {len(options)} option line found; a question needs two or more")
    if max_options is not None and len(options) > max_options:
        raise ValueError(f"{len(options)} options; the reply protocol names at most {max_options}")
    return "\n".join(lines[:first]).strip(), tuple(options)


def _run(lines: list[str]) -> list[str]:
    """The options of the lines A, B, C, ... in order from the first line."""
    options = []
    for line in lines:
        found = _letter(line)
        if found is None or found[0] != chr(ord("A") + len(options)):
            break
        options.append(found[1].strip())
    return options


# Lines of a benchmark's prompt that instruct rather than ask (lmms-eval's Video-MME, MVBench, ... prompts).
INSTRUCTIONS = re.compile(
    r"^(select the best answer|respond with only|carefully watch|answer with|answer the question with|"
    r"only give the best option|the best answer is|best option:|options?:\s*$)",
    re.IGNORECASE,
)


def strip_instructions(question: str) -> str:
    """A prompt's question without the task's own instructions and "Question:" label, which would contradict
    the episode's reply format ("Respond with only the letter" against `<answer>X</answer>`)."""
    lines = [
        re.sub(r"^question:\s*", "", line.strip(), flags=re.IGNORECASE) for line in question.splitlines()
    ]
    kept = [line for line in lines if line and not INSTRUCTIONS.match(line)]
    return "\n".join(kept) or question.strip()


def strip_letter(option: str, letter: str) -> str:
    """An option without its own letter in front: strip_letter("B. a red car", "B") == "a red car"; an
    option that does not start with that letter is returned stripped of spaces only."""
    found = _letter(option)
    return (found[1] if found is not None and found[0] == letter else option).strip()


def _letter(line: str) -> tuple[str, str] | None:
    match = _OPTION.match(line)
    if match is None:
        return None
    letter = match.group(1) or match.group(2) or match.group(3)
    return letter, match.group(4)
