"""A tour of narrative span categories: measure a diary entry, score the shipped model and an
LLM's answers the paper's way, and train your own model.

Run from the repository root: ``python examples/narratives_tour.py [OUT_DIR]``.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import bitbox
from bitbox.clinical.pd_narratives import LexiconTagger, evaluate_spans, read_llm_predictions, split_narratives
from bitbox.processors.narrative_format import read_narratives, split_sentences
from bitbox.processors.span_model import load_span_model

CORPUS = Path(__file__).resolve().parent / "narratives"
DIARY = """This morning I walked to the bakery with my husband. My hands were shaking and I felt nervous.
I remembered how my mother baked bread every Sunday. The smell of warm bread made me happy."""


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)

    # 1. A diary entry through the narrative processor: spans, and counts per 100 words.
    diary = out / "diary.txt"
    diary.write_text(DIARY, encoding="utf-8")
    result = bitbox.process(diary, processors=["narrative"])["narrative"]
    print(result.timeseries[["sentence_index", "term", "category", "score"]].to_string(index=False))
    rates = {k: round(v, 1) for k, v in result.summary.items() if k.endswith("_rate") and v}
    print("spans per 100 words:", rates, "| categories present:", int(result.summary["category_diversity"]))

    # 2. The shipped model and the lexicon baseline on the held-out files of the bundled corpus.
    corpus = read_narratives(CORPUS)
    split = split_narratives(corpus)
    train = [n for n in corpus if split[n.name] == "train"]
    test = [n for n in corpus if split[n.name] == "test"]
    model = load_span_model()
    ours = evaluate_spans(test, {n.name: n for n in model.predict(test)})
    lexicon = evaluate_spans(test, {n.name: n for n in LexiconTagger().fit(train).predict(test)})
    for name, scores in (("shipped model", ours), ("lexicon baseline", lexicon)):
        print(f"{name:<17} strict micro F1 {scores['strict']['micro']['f1']:.2f}   "
              f"lenient micro F1 {scores['lenient']['micro']['f1']:.2f}   "
              f"lenient macro F1 {scores['lenient']['macro']['f1']:.2f}")

    # 3. An LLM's answers in the paper's format, scored by the same code. Here the "LLM" answers
    #    with the gold spans of the first sentence of a test narrative and nothing else.
    gold = test[0]
    first = gold.sentences()[0]
    annotations = ", ".join(f'Annotation(start={s.begin}, end={s.end}, term="{first.term(s)}", label="{s.label}")'
                            for s in first.spans)
    lines = [f'( text ="{first.text}" annotations = {{ {annotations} }} )']
    lines += [f'( text ="{gold.content[b:e]}" annotations = {{ }} )' for b, e in split_sentences(gold.content)[1:]]
    answers = out / f"{gold.name}.txt"
    answers.write_text("\n".join(lines), encoding="utf-8")
    llm = evaluate_spans([gold], {gold.name: read_llm_predictions(answers, gold)})
    print(f"LLM answers for {gold.name}: strict precision {llm['strict']['micro']['precision']:.2f}, "
          f"recall {llm['strict']['micro']['recall']:.2f} (only the first sentence was annotated)")
    print("Train your own: bitbox narratives train", CORPUS, "-o", out / "model")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bitbox-narratives-")))
