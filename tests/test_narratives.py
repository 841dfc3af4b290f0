"""Narratives: annotation format, the paper's evaluation on hand-computed cases, the span model,
the ``narrative`` processor and the ``bitbox narratives`` command."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox.cli import main
from bitbox.clinical.pd_narratives.baseline import LexiconTagger
from bitbox.clinical.pd_narratives.corpus import split_narratives
from bitbox.clinical.pd_narratives.evaluate import (evaluate_spans, parse_llm_output, read_llm_predictions,
                                                    word_overlap)
from bitbox.processors.narrative import NarrativeProcessor
from bitbox.processors.narrative_format import (SENTENCE_SPLIT, AnnotationError, Narrative, Span, default_hierarchy,
                                                read_narrative, read_narratives, split_sentences, write_narrative)
from bitbox.processors.span_model import SpanCategorizer, default_span_model_path, load_span_model
from bitbox.testing import check_processor

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "examples" / "narratives"


def _narrative(text: str, spans: list[tuple[str, str]], name: str = "doc") -> Narrative:
    """A narrative with spans given as (term, label), each located at its first occurrence."""
    found = []
    for term, label in spans:
        begin = text.index(term)
        found.append(Span(begin, begin + len(term), label))
    return Narrative(text, sorted(found), name=name)


@pytest.fixture(scope="module")
def corpus():
    narratives = read_narratives(CORPUS)
    split = split_narratives(narratives)
    return {part: [n for n in narratives if split[n.name] == part] for part in ("train", "validation", "test")}


# ---------------------------------------------------------------------------- format
def test_sentence_split_is_the_papers_regex():
    text = "I woke up.  Then? Yes!Really\r\nNew line\n\nLast one... ok"
    pieces = [p for p in re.split(r"(?<=\.|\?|!)\s*(?=\S)|\r\n|\n", text) if p.strip()]
    assert SENTENCE_SPLIT.pattern == r"(?<=\.|\?|!)\s*(?=\S)|\r\n|\n"
    assert [text[b:e] for b, e in split_sentences(text)] == pieces
    assert pieces[:4] == ["I woke up.", "Then?", "Yes!", "Really"]


def test_nested_and_overlapping_spans_round_trip(tmp_path):
    text = "Making breakfast was slow. I went to his bathroom."
    narrative = _narrative(text, [("Making breakfast", "action"), ("went to his bathroom", "action"),
                                  ("his bathroom", "location"), ("to his", "visual_spatial")], name="x")
    path = tmp_path / "x.json"
    write_narrative(path, narrative)
    data = json.loads(path.read_text())
    assert set(data) == {"content", "indexes"} and data["content"] == text
    assert {"begin": 0, "end": 16, "semantic": "action"} in data["indexes"]["0"]["Entity"]
    back = read_narrative(path)
    assert back.spans == narrative.spans and back.name == "x"
    first, second = back.sentences()
    assert first.text == "Making breakfast was slow." and [first.term(s) for s in first.spans] == ["Making breakfast"]
    # offsets become sentence-relative; the nested location and the overlapping span stay
    assert sorted((second.term(s), s.label) for s in second.spans) == [
        ("his bathroom", "location"), ("to his", "visual_spatial"), ("went to his bathroom", "action")]
    assert second.spans[0].begin == text.index("went") - second.begin


def test_entities_of_every_index_entry_are_read_once(tmp_path):
    path = tmp_path / "multi.json"
    path.write_text(json.dumps({"content": "I sat in the garden.", "indexes": {
        "0": {"Token": [], "Entity": [{"begin": 2, "end": 19, "semantic": "action"}]},
        "1": {"Entity": [{"begin": 9, "end": 19, "semantic": "location"},
                         {"begin": 2, "end": 19, "semantic": "action"}]}}}))
    assert [(s.label, s.begin) for s in read_narrative(path).spans] == [("action", 2), ("location", 9)]


@pytest.mark.parametrize("content, entity, message", [
    ("short", {"begin": 2, "end": 40, "semantic": "action"}, r"entity 0 has begin=2, end=40.*content's length"),
    ("short", {"begin": 0, "end": 3, "semantic": "acton"}, r"'acton' is not a label.*Did you mean 'action'"),
    ("short", {"begin": "0", "end": 3, "semantic": "action"}, "non-integer offsets"),
    ("short", {"begin": 0, "semantic": "action"}, "lacks begin, end or semantic"),
])
def test_bad_annotations_name_the_file_and_entity(tmp_path, content, entity, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"content": content, "indexes": {"0": {"Entity": [entity]}}}))
    with pytest.raises(AnnotationError, match=message) as err:
        read_narrative(path)
    assert "bad.json" in str(err.value)
    path.write_text(json.dumps({"text": "no content key"}))
    with pytest.raises(AnnotationError, match="has no 'content' string"):
        read_narrative(path)


def test_label_hierarchy_holds_the_papers_48_labels_and_12_categories():
    hierarchy = default_hierarchy()
    fine = set(hierarchy.labels) - {"interoception"}  # every category is a label; only this one is not the paper's
    assert len(fine) == 48 and len(hierarchy.categories) == 12
    assert hierarchy.category("introception_hunger") == "interoception"
    assert hierarchy.category("somato_proprio") == "somatosensory"
    assert hierarchy.category("time_day_of_week") == "time"
    assert hierarchy.at_level("thought_memory", "label") == "thought_memory"


def test_bundled_corpus_is_rebuilt_exactly_from_its_source(tmp_path):
    from tools.build_narrative_corpus import main as build

    build(tmp_path)
    built = sorted(p.name for p in tmp_path.glob("*.json"))
    assert built == sorted(p.name for p in CORPUS.glob("*.json")) and len(built) == 48
    for name in built:
        assert (tmp_path / name).read_bytes() == (CORPUS / name).read_bytes(), name


def test_file_split_is_70_10_20_and_spans_the_entity_counts(corpus):
    sizes = {part: len(items) for part, items in corpus.items()}
    assert sizes == {"train": 33, "validation": 5, "test": 10}
    everything = sorted(len(n.spans) for items in corpus.values() for n in items)
    quartiles = np.quantile(everything, [0.25, 0.75])
    test_counts = [len(n.spans) for n in corpus["test"]]
    assert min(test_counts) <= quartiles[0] and max(test_counts) >= quartiles[1]
    again = split_narratives([n for items in corpus.values() for n in items])
    assert {n.name for n in corpus["test"]} == {k for k, v in again.items() if v == "test"}
    with pytest.raises(bitbox.ParameterError, match="at least 3"):
        split_narratives(corpus["test"][:2])


# ---------------------------------------------------------------------------- evaluation
GOLD_TEXT = "I went to his bathroom. I felt so tired and sad."


def _gold():
    return _narrative(GOLD_TEXT, [("went to his bathroom", "action"), ("his bathroom", "location"),
                                  ("so tired", "introception_energy_level"), ("sad", "emotion")], name="g")


def test_strict_and_lenient_on_a_hand_computed_case():
    pred = _narrative(GOLD_TEXT, [
        ("went to his bathroom", "action"),      # strict and lenient match (nested gold kept)
        ("to his bathroom", "location"),        # overlap 2/3 > 0.5: lenient only
        ("tired", "interoception"),               # overlap 1/2 = 0.5: no match either way
        ("sad", "thought"),                       # right term, wrong category: FP thought, FN emotion
    ], name="g")
    # Bitbox's stricter variant (one-to-one, macro over present categories); the paper's rule on this case is
    # in tests/test_pd_evaluate.py
    result = evaluate_spans([_gold()], {"g": pred}, lenient="one-to-one", macro="present")
    strict, lenient = result["strict"], result["lenient"]
    assert (strict["micro"]["tp"], strict["micro"]["fp"], strict["micro"]["fn"]) == (1, 3, 3)
    assert (lenient["micro"]["tp"], lenient["micro"]["fp"], lenient["micro"]["fn"]) == (2, 2, 2)
    assert lenient["micro"]["precision"] == pytest.approx(0.5) and lenient["micro"]["f1"] == pytest.approx(0.5)
    assert strict["micro"]["f1"] == pytest.approx(2 * 0.25 * 0.25 / 0.5)
    per = lenient["per_category"]
    assert set(lenient["macro_categories"]) == {"action", "location", "interoception", "emotion", "thought"}
    assert per["location"]["f1"] == 1.0 and strict["per_category"]["location"]["f1"] == 0.0
    assert per["thought"] == pytest.approx({**per["thought"], "precision": 0.0, "recall": 0.0, "f1": 0.0})
    # macro = mean over the five categories: action 1, location 1, others 0
    assert lenient["macro"]["f1"] == pytest.approx(2 / 5) and strict["macro"]["f1"] == pytest.approx(1 / 5)
    assert word_overlap("so tired", "tired") == 0.5 and word_overlap("his bathroom", "to his bathroom") == 2 / 3


def test_terms_are_sets_per_sentence_and_matching_is_one_to_one():
    text = "We walked and walked. Then we walked home."
    gold = _narrative(text, [("walked", "action")], name="g")
    gold.spans.append(Span(text.index("walked home"), text.index("walked home") + 6, "action"))
    twice = Narrative(text, [Span(3, 9, "action"), Span(14, 20, "action")], name="g")  # same term twice: once
    result = evaluate_spans([gold], {"g": twice}, lenient="one-to-one")
    assert result["strict"]["micro"]["tp"] == 1 and result["strict"]["micro"]["fp"] == 0
    assert result["strict"]["micro"]["fn"] == 1  # the second sentence's "walked"
    # one long prediction can lenient-match only one of two gold terms
    gold2 = _narrative("I saw red roses and red tulips.", [("red roses", "visual_color"), ("red tulips", "visual")])
    pred2 = _narrative("I saw red roses and red tulips.", [("red roses and red tulips", "visual")])
    lenient = evaluate_spans([gold2], {"doc": pred2}, lenient="one-to-one")["lenient"]["micro"]
    assert (lenient["tp"], lenient["fp"], lenient["fn"]) == (0, 1, 2)  # overlap 2/5 each: no match
    pred3 = _narrative("I saw red roses and red tulips.", [("saw red roses", "visual")])
    lenient = evaluate_spans([gold2], {"doc": pred3}, lenient="one-to-one")["lenient"]["micro"]
    assert (lenient["tp"], lenient["fp"], lenient["fn"]) == (1, 0, 1)


def test_empty_and_missing_predictions_score_zero_and_are_listed():
    empty = Narrative(GOLD_TEXT, [], name="g")
    result = evaluate_spans([_gold()], {"g": empty, "stray": empty})
    assert result["strict"]["micro"] == pytest.approx({"precision": 0, "recall": 0, "f1": 0, "tp": 0, "fp": 0,
                                                       "fn": 4, "support": 4})
    assert result["extra_predictions"] == ["stray"] and result["missing_predictions"] == []
    result = evaluate_spans([_gold()], {})
    assert result["missing_predictions"] == ["g"] and result["lenient"]["micro"]["fn"] == 4
    assert evaluate_spans([_gold()], {"g": _gold()})["strict"]["micro"]["f1"] == 1.0


def test_labels_outside_the_hierarchy_are_a_clear_error_or_dropped_and_counted():
    bad = _narrative(GOLD_TEXT, [("sad", "emotions"), ("went to his bathroom", "action")], name="g")
    with pytest.raises(AnnotationError, match=r"'emotions' is not a label.*Did you mean 'emotion'.*on-unknown"):
        evaluate_spans([_gold()], {"g": bad})
    result = evaluate_spans([_gold()], {"g": bad}, on_unknown="drop")
    assert result["dropped_predictions"] == 1 and result["strict"]["micro"]["tp"] == 1
    other = Narrative("Another text.", [], name="g")
    with pytest.raises(AnnotationError, match="content differs"):
        evaluate_spans([_gold()], {"g": other})


def test_fine_label_level():
    pred = _narrative(GOLD_TEXT, [("so tired", "introception")], name="g")
    assert evaluate_spans([_gold()], {"g": pred})["strict"]["micro"]["tp"] == 1
    assert evaluate_spans([_gold()], {"g": pred}, level="label")["strict"]["micro"]["tp"] == 0


def test_llm_outputs_in_the_papers_format_are_parsed_and_scored(tmp_path):
    answer = ('( text ="I went to his bathroom." annotations = { Annotation(start=2, end=22, '
              'term="went to his bathroom", label="action"), Annotation(start=10, end=22, term="his bathroom", '
              "label='location') } )\n"
              '( text ="I felt so tired and sad." annotations = { } )')
    blocks = parse_llm_output(answer)
    assert [b.text for b in blocks] == ["I went to his bathroom.", "I felt so tired and sad."]
    assert blocks[0].annotations == [(2, 22, "went to his bathroom", "action"), (10, 22, "his bathroom", "location")]
    assert parse_llm_output('( text ="He said \\"hi\\"." annotations = { Annotation(start=0, end=7, '
                            'term="said \\"hi\\"", label="social_interaction") } )')[0].annotations[0][2] == 'said "hi"'
    path = tmp_path / "g.txt"
    path.write_text(answer)
    sets = read_llm_predictions(path, _gold())
    assert sets == [{("went to his bathroom", "action"), ("his bathroom", "location")}, set()]
    result = evaluate_spans([_gold()], {"g": sets})
    assert (result["strict"]["micro"]["tp"], result["strict"]["micro"]["fn"]) == (2, 2)
    path.write_text('( text ="A sentence that is not there." annotations = { } )')
    with pytest.raises(AnnotationError, match="matches no sentence"):
        read_llm_predictions(path, _gold())


# ---------------------------------------------------------------------------- span model
def test_shipped_model_beats_the_lexicon_baseline_on_held_out_files(corpus):
    model = load_span_model()
    assert model.training_["validation_files"] == sorted(n.name for n in corpus["validation"])
    assert set(model.training_["files"]) == {n.name for n in corpus["train"]}  # never saw the test files
    test = corpus["test"]
    predicted = model.predict(test)
    ours = evaluate_spans(test, {n.name: n for n in predicted})
    lexicon = LexiconTagger().fit(corpus["train"])
    theirs = evaluate_spans(test, {n.name: n for n in lexicon.predict(test)})
    assert ours["lenient"]["micro"]["f1"] > theirs["lenient"]["micro"]["f1"] + 0.2
    assert ours["lenient"]["micro"]["f1"] > 0.45 and ours["strict"]["micro"]["f1"] > 0.4
    # the figures shipped beside the model are these
    shipped = json.loads((default_span_model_path() / "metrics.json").read_text())
    assert shipped["model"]["lenient"]["micro"]["f1"] == pytest.approx(ours["lenient"]["micro"]["f1"])
    assert {c: v["f1"] for c, v in shipped["lexicon_baseline"]["lenient"]["per_category"].items()} == \
        pytest.approx({c: v["f1"] for c, v in theirs["lenient"]["per_category"].items()})
    # nested spans of different categories are predicted (multi-label spans)
    nested = [(a, b) for n in predicted for a in n.spans for b in n.spans
              if a != b and a.begin <= b.begin and b.end <= a.end and a.label != b.label]
    assert nested


def test_span_model_fit_save_load_and_parameters(corpus, tmp_path):
    from bitbox.processors.text.encoder import default_embedding_model

    encoder = str(default_embedding_model())  # any encoder folder, by path
    model = SpanCategorizer(encoder=encoder, hidden_size=32, max_epochs=4, patience=2, layers=1, seed=3)
    assert model.get_params()["hidden_size"] == 32 and not hasattr(model, "labels_")
    assert SpanCategorizer(**model.get_params()).get_params() == model.get_params()
    with pytest.raises(bitbox.ParameterError, match="not fitted"):
        model.predict(["Text."])
    with pytest.raises(bitbox.ParameterError, match="'max_width' parameter of SpanCategorizer must be a positive"):
        SpanCategorizer(max_width=0).fit(corpus["train"][:2])
    model.fit(corpus["train"][:6], corpus["validation"][:2])
    assert 1 <= model.best_epoch_ <= 4 and len(model.history_) <= 4
    assert set(model.thresholds_) == set(model.labels_) and all(0 < t < 1 for t in model.thresholds_.values())
    texts = [n.content for n in corpus["test"][:2]]
    before = model.predict(texts)
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["params"]["hidden_size"] == 32 and config["training"]["n_narratives"] == 6
    assert config["params"]["encoder"] == str(Path(encoder).resolve())
    assert {"torch", "transformers"} <= set(config["package_versions"])
    after = load_span_model(tmp_path / "m").predict(texts)
    assert [n.spans for n in after] == [n.spans for n in before]
    with pytest.raises(AnnotationError, match="not a saved span model"):
        load_span_model(tmp_path)


def test_fine_tuning_the_encoder_saves_it_with_the_model(corpus, tmp_path):
    model = SpanCategorizer(fine_tune_encoder=True, hidden_size=16, max_epochs=1, layers=1)
    model.fit(corpus["train"][:2], corpus["validation"][:1])
    texts = [corpus["test"][0].content]
    before = model.predict(texts)
    model.save(tmp_path / "ft")
    assert (tmp_path / "ft" / "encoder" / "config.json").is_file()
    loaded = load_span_model(tmp_path / "ft")
    assert loaded.encoder == str(tmp_path / "ft" / "encoder")
    after = loaded.predict(texts)[0]
    assert [(s, round(before[0].scores[s], 4)) for s in before[0].spans] == \
        [(s, round(after.scores[s], 4)) for s in after.spans]


# ---------------------------------------------------------------------------- processor and CLI
def test_narrative_processor_runs_through_bitbox_run_on_text_files(corpus, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    chosen = corpus["test"][:2]
    for narrative in chosen:
        (inputs / f"{narrative.name}.txt").write_text(narrative.content, encoding="utf-8")
    (inputs / "empty.txt").write_text("  \n", encoding="utf-8")
    code = main(["run", str(inputs), "-o", str(tmp_path / "out"), "-p", "narrative", "-q"])
    assert code == 1  # the empty file failed, the others went on
    summary = pd.read_csv(tmp_path / "out" / "summary.csv", dtype={"recording_id": str}).set_index("recording_id")
    assert summary.loc["empty", "status"] == "failed" and "no words" in summary.loc["empty", "error"]
    model = load_span_model()
    for narrative in chosen:
        row = summary.loc[narrative.name]
        spans = pd.read_parquet(tmp_path / "out" / narrative.name / "narrative.parquet")
        expected = model.predict([narrative.content])[0].spans
        assert list(zip(spans.begin_char, spans.end_char, spans.label)) == [(s.begin, s.end, s.label) for s in expected]
        assert spans.term.tolist() == [narrative.content[s.begin:s.end] for s in expected]
        assert spans.time_s.isna().all()  # plain text has no times
        words = len(re.findall(r"\w+(?:['’]\w+)*", narrative.content))
        assert row["narrative.word_count"] == words and row["narrative.span_count"] == len(expected)
        actions = sum(s.label == "action" for s in expected)
        assert row["narrative.action_count"] == actions
        assert row["narrative.action_rate"] == pytest.approx(100 * actions / words)
        assert row["narrative.category_diversity"] == len({s.label for s in expected})


def test_narrative_processor_reads_timed_transcripts_and_annotation_json(tmp_path):
    transcript = tmp_path / "talk.json"
    transcript.write_text(json.dumps({"segments": [
        {"start": 1.0, "end": 4.0, "text": "This morning I walked to the park with my daughter."},
        {"start": 6.5, "end": 9.0, "text": "I felt happy and a little tired."}]}))
    result = NarrativeProcessor().process(transcript)
    frame = result.timeseries
    assert set(frame.time_s) <= {1.0, 6.5} and frame.time_s.is_monotonic_increasing
    assert (frame.loc[frame.term == "happy", "time_s"] == 6.5).all() and len(frame)
    figure = bitbox.process(transcript, processors=["narrative"]).plot()  # rates by category + where spans lie
    assert [ax.get_xlabel() for ax in figure.axes] == ["spans per 100 words", "position in the text (start to end)"]
    assert len(figure.axes[0].patches) == 12
    annotated = tmp_path / "annotated.json"
    write_narrative(annotated, _gold())
    assert NarrativeProcessor().process(annotated).summary["word_count"] == 11
    with pytest.raises(bitbox.ParameterError, match="span-model folder"):
        NarrativeProcessor(model=str(tmp_path)).process(annotated)


def test_narrative_processor_passes_the_conformance_check(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text(GOLD_TEXT, encoding="utf-8")
    result = check_processor(NarrativeProcessor, path)
    assert result.provenance["companion_files"]["model_weights"]["sha256"]


def test_narratives_cli_predict_evaluate_and_train(corpus, tmp_path, capsys):
    from tests.conftest import render_in_chromium

    gold = tmp_path / "gold"
    gold.mkdir()
    for narrative in corpus["test"]:
        shutil.copy(CORPUS / f"{narrative.name}.json", gold)
    pred = tmp_path / "pred"
    assert main(["narratives", "predict", str(gold), "-o", str(pred)]) == 0
    (pred / f"{corpus['test'][0].name}.json").unlink()  # one missing prediction
    assert main(["narratives", "evaluate", "--gold", str(gold), "--pred", str(pred), "-o", str(tmp_path / "ev")]) == 0
    out = capsys.readouterr().out
    assert "1 gold file(s) without predictions" in out
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    for mode in ("strict", "lenient"):
        assert {"micro", "macro", "per_category"} <= set(metrics[mode])
        assert {"precision", "recall", "f1"} <= set(metrics[mode]["micro"]) | set(metrics[mode]["macro"])
        assert all({"precision", "recall", "f1"} <= set(v) for v in metrics[mode]["per_category"].values())
    assert metrics["missing_predictions"] == [corpus["test"][0].name]
    # a prediction with a label outside the hierarchy: a clear error, exit 2
    bad = read_narrative(gold / f"{corpus['test'][1].name}.json")
    bad.spans[0] = Span(bad.spans[0].begin, bad.spans[0].end, "feelings")
    write_narrative(pred / f"{bad.name}.json", bad)
    assert main(["narratives", "evaluate", "--gold", str(gold), "--pred", str(pred), "-o", str(tmp_path / "e2")]) == 2
    assert "'feelings' is not a label" in capsys.readouterr().err
    # train on a small corpus: model folder, held-out metrics for model and baseline, report
    small = tmp_path / "small"
    small.mkdir()
    for narrative in corpus["train"][:10]:
        shutil.copy(CORPUS / f"{narrative.name}.json", small)
    model_dir = tmp_path / "model"
    assert main(["narratives", "train", str(small), "-o", str(model_dir), "--max-epochs", "3", "-q"]) == 0
    assert {"config.json", "head.npz", "metrics.json", "splits.csv", "report.html"} <= \
        {p.name for p in model_dir.iterdir()}
    trained = json.loads((model_dir / "metrics.json").read_text())
    assert set(trained["split"]) == {"train", "validation", "test"} and len(trained["split"]["test"]) == 2
    assert {"model", "lexicon_baseline"} <= set(trained)
    assert load_span_model(model_dir).predict(["I walked to the shop."])
    pixels = render_in_chromium(default_span_model_path() / "report.html", tmp_path, height=2600)
    if pixels is None:
        pytest.skip("Chromium is not installed (make test installs Debian's chromium); the report was not rendered")
    blue = np.all(np.abs(pixels - [59, 125, 216]) < 30, axis=-1).sum()
    orange = np.all(np.abs(pixels - [224, 123, 57]) < 30, axis=-1).sum()
    assert blue > 500 and orange > 200, (blue, orange)
