"""Build the annotated narrative corpus (annotation JSON files) from its marked-up source.

The source (``tools/narrative_corpus/*.txt``) holds narratives written for Bitbox, each
under a ``=== name`` line, with spans marked inline and nested freely::

    === n01_breakfast
    [This morning]{time_of_day} I [went to [the kitchen]{location}]{action} ...

Every ``[`` opens a span; ``]{label}`` closes the innermost open one. Labels are checked
against the default hierarchy. The guide the spans follow is in ``docs/narratives.md``.

Usage::

    python tools/build_narrative_corpus.py [OUT_DIR]   # default examples/narratives
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bitbox.processors.narrative_format import Narrative, Span, default_hierarchy, write_narrative  # noqa: E402

SOURCE = ROOT / "tools" / "narrative_corpus"
DEFAULT_OUT = ROOT / "examples" / "narratives"
_CLOSE = re.compile(r"\]\{([a-z_]+)\}")


def parse_markup(text: str, where: str = "") -> Narrative:
    """Plain content and spans from marked-up text (see the module docstring)."""
    content: list[str] = []
    spans: list[Span] = []
    stack: list[int] = []
    length, i = 0, 0
    while i < len(text):
        char = text[i]
        if char == "[":
            stack.append(length)
            i += 1
            continue
        if char == "]":
            match = _CLOSE.match(text, i)
            if match is None or not stack:
                raise ValueError(f"{where}: unmatched ']' or missing {{label}} at {text[max(0, i - 30):i + 10]!r}")
            begin = stack.pop()
            spans.append(Span(begin, length, match.group(1)))
            i = match.end()
            continue
        content.append(char)
        length += 1
        i += 1
    if stack:
        raise ValueError(f"{where}: {len(stack)} span(s) opened and never closed")
    narrative = Narrative("".join(content), sorted(spans), name=where)
    for span in narrative.spans:
        term = narrative.term(span)
        if term != term.strip():
            raise ValueError(f"{where}: span {term!r} starts or ends with whitespace")
    return narrative.validate(default_hierarchy(), source=where)


def read_source(folder: Path = SOURCE) -> list[Narrative]:
    """Every narrative of the marked-up source files, in file order."""
    narratives = []
    for path in sorted(folder.glob("*.txt")):
        blocks = re.split(r"^=== *(\S+) *$", path.read_text(encoding="utf-8"), flags=re.M)
        for name, body in zip(blocks[1::2], blocks[2::2]):
            text = "\n".join(line.strip() for line in body.strip().splitlines())
            narratives.append(parse_markup(text, where=name))
    names = [n.name for n in narratives]
    if len(set(names)) != len(names):
        raise ValueError("Two narratives share a name")
    return narratives


def main(out: Path = DEFAULT_OUT) -> None:
    narratives = read_source()
    out.mkdir(parents=True, exist_ok=True)
    for narrative in narratives:
        write_narrative(out / f"{narrative.name}.json", narrative)
    n_spans = sum(len(n.spans) for n in narratives)
    print(f"{len(narratives)} narratives, {n_spans} spans -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
