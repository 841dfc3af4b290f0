"""HBA metrics, answers and registry against the benchmark's own code (MIT-MI/human_behavior_atlas).

Every expected number below is (1) computed by hand in the comments and (2) the output of the
original functions on the same inputs: ``compute_dataset_metrics`` (multi_task_evaluation.py),
``compute_set_metrics``/``compute_metrics_by_dataset`` (detailed_multi_task_evaluation.py),
``compute_sentiment_collapsed_metrics`` (helper_senti.py), ``compute_emotion_weighted_accuracies``
(helper_emo.py), ``resolve_global_index`` (_build_label_map.py), ``SFTTrainer._extract_answer``
(sft_trainer.py), ``extract_boxed_content`` (human_behaviour_harpo.py) and
``convert_to_results_format`` (llm_judge_eval.py), run at the repository's commit 9cd5ced with
answers mapped to the unified label map's global indices (an off-label answer: index 99).
"""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bitbox
from bitbox.clinical.hba import (SENTIMENT_LEVELS, TaskRegistry, classification_metrics, default_registry,
                                 emotion_metrics, extract_answer, normalize_answer, prepare_answers, qa_metrics,
                                 sentiment_metrics)

REGISTRY = default_registry()


# ------------------------------------------------------------------ classification
def test_macro_scores_average_over_the_gold_classes_only():
    gold = ["depression", "depression", "no depression", "no depression"]
    pred = ["depression", "no depression", "no depression", "maybe"]
    m = classification_metrics(gold, pred, task=REGISTRY.get("daicwoz"))
    # depression: TP 1, FP 0, FN 1 -> P 1, R 1/2, F1 2/3; no depression: TP 1, FP 1, FN 1 -> P R F1 1/2
    # macro F1 (2/3 + 1/2) / 2 = 7/12; "maybe" is wrong for its sample but is no class of its own.
    # Original (both evaluators): macro P .75, R .5, F1 .5833; weighted the same; micro P 2/3, R 1/2, F1 4/7.
    expected = {"accuracy": 0.5, "macro_precision": 0.75, "macro_recall": 0.5, "macro_f1": 0.5833333333333333,
                "weighted_precision": 0.75, "weighted_recall": 0.5, "weighted_f1": 0.5833333333333333,
                "micro_precision": 0.6666666666666666, "micro_recall": 0.5, "micro_f1": 0.5714285714285715}
    assert {k: m[k] for k in expected} == pytest.approx(expected, abs=1e-12)
    assert m["n_invalid"] == 1 and m["per_class_f1"] == pytest.approx({"depression": 2 / 3, "no depression": 0.5})
    assert m["confusion_matrix"]["labels"] == ["depression", "maybe", "no depression"]
    # Bitbox's older convention, kept as an option: "maybe" is a third class -> (2/3 + 1/2 + 0) / 3 = 0.389
    old = classification_metrics(gold, pred, task=REGISTRY.get("daicwoz"), average="gold_and_predicted")
    assert old["macro_f1"] == pytest.approx(7 / 18) and old["weighted_f1"] == pytest.approx(m["weighted_f1"])


def test_a_gold_class_never_predicted_and_valid_labels_that_are_not_gold():
    gold = ["anger", "anger", "fear", "happy", "happy", "happy"]
    pred = ["anger", "sad", "anger", "happy", "anger", "neutral"]
    m = classification_metrics(gold, pred, task=REGISTRY.get("cremad"))
    # anger: TP 1, FP 2 (fear, happy predicted anger), FN 1 -> P 1/3, R 1/2, F1 0.4
    # fear: TP 0 -> 0; happy: TP 1, FP 0, FN 2 -> P 1, R 1/3, F1 0.5. sad, neutral: not gold, no class.
    # macro P (1/3 + 0 + 1) / 3 = 4/9, R (1/2 + 0 + 1/3) / 3 = 5/18, F1 0.9 / 3 = 0.3
    # weighted F1 (2 * .4 + 0 + 3 * .5) / 6 = 0.38333; micro: TP 2, FP 2, FN 4 -> P 1/2, R 1/3, F1 0.4
    expected = {"macro_precision": 0.4444444444444444, "macro_recall": 0.27777777777777773, "macro_f1": 0.3,
                "weighted_precision": 0.611111111111111, "weighted_f1": 0.3833333333333333,
                "micro_precision": 0.5, "micro_f1": 0.4, "accuracy": 0.3333333333333333}
    assert {k: m[k] for k in expected} == pytest.approx(expected, abs=1e-12)
    assert m["per_class_f1"] == pytest.approx({"anger": 0.4, "fear": 0.0, "happy": 0.5})
    assert m["n_invalid"] == 0   # sad and neutral are cremad labels


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abcx")), min_size=1, max_size=30))
def test_gold_class_averages_equal_scikit_learn_restricted_to_the_gold_labels(pairs):
    from sklearn.metrics import f1_score, precision_score

    gold, pred = [g for g, _ in pairs], [p for _, p in pairs]
    m = classification_metrics(gold, pred)
    labels = sorted(set(gold))
    for average in ("macro", "weighted", "micro"):
        assert m[f"{average}_f1"] == pytest.approx(f1_score(gold, pred, labels=labels, average=average,
                                                            zero_division=0), abs=1e-12)
        assert m[f"{average}_precision"] == pytest.approx(precision_score(gold, pred, labels=labels, average=average,
                                                                          zero_division=0), abs=1e-12)


def test_bitboxs_older_answer_convention_is_a_named_option():
    # The benchmark reads "Maybe." as "maybe" (its first phrase), a wrong answer, and '"b"' as is.
    m = classification_metrics(["a", "b"], ["a", '"b"'])
    assert m["accuracy"] == 0.5 and m["confusion_matrix"]["labels"] == ['"b"', "a", "b"]
    old = classification_metrics(["a", "b"], ["a", '"b"'], normalize=normalize_answer)
    assert old["accuracy"] == 1.0
    with pytest.raises(ValueError, match="average='macro': use one of gold, gold_and_predicted"):
        classification_metrics(["a"], ["a"], average="macro")


# ------------------------------------------------------------------ sentiment
# Per (gold, prediction) pair on the 7-point scale, correct (1) or not under ACC7, ACC5, ACC3, ACC2,
# as compute_sentiment_collapsed_metrics returns it for that single sample ("off": an off-scale
# answer). ACC5 groups {hneg} {neg, wneg} {neu} {wpos, pos} {hpos}; ACC2 drops neutral gold and a
# neutral prediction is wrong (the original returns ACC2 = 0 for a neutral gold sample: no sample;
# ours is NaN with n_non_neutral = 0).
PAIRS = {
    "highly negative": ["1111", "0011", "0011", "0000", "0000", "0000", "0000", "0000"],
    "negative": ["0011", "1111", "0111", "0000", "0000", "0000", "0000", "0000"],
    "weakly negative": ["0011", "0111", "1111", "0000", "0000", "0000", "0000", "0000"],
    "neutral": ["0000", "0000", "0000", "1110", "0000", "0000", "0000", "0000"],
    "weakly positive": ["0000", "0000", "0000", "0000", "1111", "0111", "0011", "0000"],
    "positive": ["0000", "0000", "0000", "0000", "0111", "1111", "0011", "0000"],
    "highly positive": ["0000", "0000", "0000", "0000", "0011", "0011", "1111", "0000"],
}
PREDICTIONS = list(SENTIMENT_LEVELS) + ["off the scale"]


def test_every_sentiment_level_pair_scores_as_the_benchmark():
    for gold, row in PAIRS.items():
        for prediction, flags in zip(PREDICTIONS, row):
            s = sentiment_metrics([gold], [prediction])
            got = [s["acc7"], s["acc5"], s["acc3"], s["acc2"]]
            want = [float(f) for f in flags]
            if gold == "neutral":
                assert math.isnan(got[3]) and s["n_non_neutral"] == 0
                got, want = got[:3], want[:3]
            assert got == want, (gold, prediction, got, want)


def test_sentiment_accuracies_and_weighted_f1_over_all_pairs():
    pairs = [(g, p) for g in SENTIMENT_LEVELS for p in PREDICTIONS]   # 7 x 8 = 56 samples
    s = sentiment_metrics([g for g, _ in pairs], [p for _, p in pairs])
    # ACC7 7/56; ACC5 (1 + 2*2 + 1 + 2*2 + 1)/56 = 11/56; ACC3 (3*3 + 1 + 3*3)/56 = 19/56;
    # ACC2: 6 non-neutral golds x 8 = 48 samples, 2 * 3*3 right -> 18/48.
    # F1w7: each level TP 1, predicted 7 times, support 8 -> P 1/7, R 1/8, F1 2/15.
    # F1w5: singletons 2/15; pairs TP 4, predicted 14, support 16 -> P 2/7, R 1/4, F1 4/15;
    #       (3 * 8 * 2/15 + 2 * 16 * 4/15) / 56 = 0.20952.
    # F1w3: NEG TP 9, predicted 21, support 24 -> 0.4; NEU 2/15; POS 0.4 -> (48 * .4 + 8 * 2/15) / 56.
    # F1w2: NEG TP 9, predicted 18, support 24 -> P 1/2, R 3/8, F1 3/7; POS the same.
    # The original: ACC7 .125, F1w7 .13333, ACC5 .19643, F1w5 .20952, ACC3 .33929, F1w3 .36190,
    # ACC2 .375, F1w2 .42857.
    expected = {"acc7": 0.125, "weighted_f1_7": 0.13333333333333333, "acc5": 0.19642857142857142,
                "weighted_f1_5": 0.2095238095238095, "acc3": 0.3392857142857143, "weighted_f1_3": 0.3619047619047619,
                "acc2": 0.375, "weighted_f1_2": 0.42857142857142855}
    assert {k: s[k] for k in expected} == pytest.approx(expected, abs=1e-12)
    assert s["n_non_neutral"] == 48 and s["n_off_scale"] == 7


def test_the_pairs_where_the_benchmark_differs_from_clipping_and_sign():
    one = {(g, p): sentiment_metrics([g], [p]) for g, p in [
        ("weakly negative", "negative"), ("negative", "highly negative"), ("weakly positive", "positive"),
        ("positive", "highly positive"), ("negative", "neutral"), ("positive", "neutral")]}
    # Clipping to +-2 (Bitbox before) put -1 and -2 apart and -2 with -3; the benchmark the reverse.
    assert one["weakly negative", "negative"]["acc5"] == 1 and one["negative", "highly negative"]["acc5"] == 0
    assert one["weakly positive", "positive"]["acc5"] == 1 and one["positive", "highly positive"]["acc5"] == 0
    # A neutral prediction is wrong for ACC2 (it was "negative" before).
    assert one["negative", "neutral"]["acc2"] == 0 and one["positive", "neutral"]["acc2"] == 0


def test_chsimsv2_and_meld_senti_on_the_shared_scale():
    chs, meld = REGISTRY.get("chsimsv2"), REGISTRY.get("meld_senti")
    assert len(chs.labels) == 5 and len(meld.labels) == 3 and len(REGISTRY.get("mosei_senti").labels) == 7
    gold = ["highly negative", "weakly negative", "weakly negative", "neutral", "weakly positive", "highly positive"]
    pred = ["negative", "negative", "weakly negative", "weakly positive", "positive", "highly positive"]
    s = sentiment_metrics(gold, pred, chs.labels, task=chs)
    m = classification_metrics(gold, pred, task=chs)
    # positions gold 0 2 2 3 4 6, pred 1 1 2 4 5 6. ACC7 2/6; ACC5 groups 0 1 1 2 3 4 vs 1 1 1 3 3 4 -> 4/6;
    # ACC3 N N N U P P vs N N N P P P -> 5/6; ACC2 (5 non-neutral) 5/5.
    # "negative" is on the scale (ACC5 right for weakly negative) but not a chsimsv2 class: macro over the
    # 5 gold classes: F1 hneg 0, wneg 2/3, neu 0, wpos 0, hpos 1 -> 1/3.
    assert (s["acc7"], s["acc5"], s["acc3"], s["acc2"]) == pytest.approx((1 / 3, 2 / 3, 5 / 6, 1.0))
    # The original (compute_metrics_by_dataset): F1w7 .38889, F1w5 .54444, F1w3 .76667, F1w2 1,
    # macro F1 .33333, weighted F1 .38889, micro F1 .44444.
    assert (s["weighted_f1_7"], s["weighted_f1_5"], s["weighted_f1_3"], s["weighted_f1_2"]) == pytest.approx(
        (0.38888888888888884, 0.5444444444444444, 0.7666666666666666, 1.0), abs=1e-12)
    assert (m["macro_f1"], m["weighted_f1"], m["micro_f1"]) == pytest.approx(
        (1 / 3, 0.38888888888888884, 0.4444444444444444), abs=1e-12)
    assert m["n_invalid"] == 3   # "negative" twice and "positive": on the scale, not chsimsv2 labels
    gold, pred = ["negative", "neutral", "positive", "positive"], ["negative", "negative", "neutral", "highly positive"]
    s = sentiment_metrics(gold, pred, meld.labels, task=meld)
    # positions 1 3 5 5 vs 1 1 3 6: ACC7 1/4, ACC5 1/4 (5 -> group 3, 6 -> group 4), ACC3 2/4,
    # ACC2 on 1 5 5 vs 1 3 6: 0 / wrong (neutral) / 1 -> 2/3. Original: F1w2 .77778, F1w3 .5.
    assert (s["acc7"], s["acc5"], s["acc3"], s["acc2"]) == pytest.approx((0.25, 0.25, 0.5, 2 / 3))
    assert (s["weighted_f1_2"], s["weighted_f1_3"]) == pytest.approx((0.7777777777777777, 0.5), abs=1e-12)


def test_sentiment_synonyms_and_an_answer_off_the_scale():
    gold, pred = ["highly positive", "highly negative"], ["Strongly Positive", "\\boxed{highly negative}"]
    s = sentiment_metrics(gold, pred)
    # strings compared: "strongly positive" is off the scale (wrong everywhere), the boxed answer right
    assert s["acc7"] == 0.5 and s["acc2"] == 0.5 and s["n_off_scale"] == 1
    assert sentiment_metrics(gold, pred, synonyms=True)["acc7"] == 1.0   # the label map: -> highly positive
    with pytest.raises(ValueError, match=r"gold sentiment answer\(s\) \['strongly negative'\] are not among the "
                                         r"levels .* \(synonyms=True reads them as the label map does\)"):
        sentiment_metrics(["Strongly negative"], ["positive"])
    assert sentiment_metrics(["Strongly negative"], ["highly negative"], synonyms=True)["acc7"] == 1.0
    with pytest.raises(ValueError, match=r"\['very good'\] are not among the levels"):
        sentiment_metrics(["very good"], ["positive"], synonyms=True)


# ------------------------------------------------------------------ emotion
def test_emotion_weighted_accuracy_as_the_benchmark():
    # sad is every gold answer: P 3, N 0 -> WA = (2/3 + 0) / 2 = 1/3 (the original's _safe_div); before: 2/3
    assert emotion_metrics(["sad"] * 3, ["sad", "happy", "sad"])["per_class_weighted_accuracy"] == pytest.approx(
        {"sad": 1 / 3})
    gold, pred = ["happy", "happy", "sad", "neutral"], ["happy", "joy", "sad", "neutral"]
    # "joy" is not read as happy: happy (1/2 + 2/2)/2 = .75, sad 1, neutral 1 -> mean .91667 (the original)
    e = emotion_metrics(gold, pred)
    assert e["mean_weighted_accuracy"] == pytest.approx(0.9166666666666666, abs=1e-12)
    assert emotion_metrics(gold, pred, synonyms=True)["mean_weighted_accuracy"] == 1.0   # joy -> happy


# ------------------------------------------------------------------ answers and label map
# (dataset, gold answer) -> the original's resolve_global_index label (None: it raises, unmappable)
LABEL_MAP = {
    ("mosei_senti", "Strongly Positive"): "highly positive", ("mosei_senti", " weakly negative "): "weakly negative",
    ("tess", "Angry"): "anger", ("tess", "pleasant surprise"): "surprise", ("cremad", "Happiness"): "happy",
    ("daicwoz", "Yes"): "depression", ("daicwoz", "0"): "no depression", ("daicwoz", "No  Depression"): "no depression",
    ("mmpsy_anxiety", "no  anxiety"): "no anxiety", ("ptsd_in_the_wild", "PTSD"): "ptsd",
    ("ptsd_in_the_wild", "yes"): None, ("mmsd", "TRUE"): "sarcasm", ("mmsd", "not sarcasm"): "not sarcasm",
    ("mmsd", "not  sarcasm"): None, ("urfunny", "n"): "not humour", ("urfunny", "Humour"): "humour",
    ("meld_emotion", "joy"): "happy", ("chsimsv2", "strongly negative"): "highly negative",
}


def test_gold_answers_map_as_the_label_map_does():
    for (dataset, answer), label in LABEL_MAP.items():
        info = REGISTRY.get(dataset)
        got = info.canonical(answer)
        if label is None:   # the label map refuses it; ours keeps it as an answer outside the labels
            assert got not in info.labels, (dataset, answer, got)
        else:
            assert got == label, (dataset, answer, got)


def test_synonym_tables_read_gold_and_predictions_only_when_asked():
    info = REGISTRY.get("daicwoz")
    gold, pred = ["depression", "no depression"], ["Yes", "\\boxed{No}"]
    assert classification_metrics(gold, pred, task=info)["accuracy"] == 0.0   # sft_trainer compares strings
    m = classification_metrics(gold, pred, task=info, synonyms=True)
    assert m["accuracy"] == 1.0 and m["n_invalid"] == 0
    # gold answers written "yes"/"no" are compared as strings too, or both read by the label map
    assert classification_metrics(["yes", "no"], ["yes", "yes"], task=info)["per_class_f1"] == {"no": 0.0, "yes": 2 / 3}
    m = classification_metrics(["yes", "no"], ["true", "0"], task=info, synonyms=True)
    assert m["accuracy"] == 1.0 and m["confusion_matrix"]["labels"] == ["depression", "no depression"]
    assert prepare_answers(["PTSD"], ["yes"], rules=REGISTRY.get("ptsd_in_the_wild").rules, synonyms=True) == (
        ["ptsd"], ["yes"])   # no boolean answers for PTSD in the label map


# response -> (sft, reward, judge), the original extractors' outputs (sft lower-cased by its caller,
# reward stripped and lower-cased, judge as is)
EXTRACTED = {
    "<think>It sounds angry.</think> \\boxed{ Anger } Hope this helps.": ("anger", "anger", " Anger "),
    "Neutral. Well, the speaker": ("neutral", "neutral. well, the speaker", "Neutral. Well, the speaker"),
    "no depression, because": ("no depression", "no depression, because", "no depression, because"),
    "\\boxed{}<answer> Sad </answer>": ("sad", "", "\\boxed{}<answer> Sad </answer>"),
    "\\boxed{\\text{anger}}": ("\\text{anger", "\\text{anger", "\\text{anger"),
    "[happy] maybe": ("[happy] maybe", "happy", "[happy] maybe"),
    "< answer >fear< / answer >": ("< answer >fear< / answer >", "fear", "< answer >fear< / answer >"),
    "  weakly positive  ": ("weakly positive", "weakly positive", "weakly positive"),
    "": ("", "", ""),
    "\\boxed{a}\\boxed{b}": ("a", "a", "a"),
    "Sad!\nHappy": ("sad", "sad!\nhappy", "Sad!\nHappy"),
    "...neutral": ("...neutral", "...neutral", "...neutral"),
    "<think>x</think>\\boxed{no / yes}": ("no / yes", "no/yes", "no / yes"),
}


def test_answer_extraction_matches_the_benchmarks_three_readers():
    for text, (sft, reward, judge) in EXTRACTED.items():
        assert extract_answer(text, "sft").lower() == sft, text
        assert extract_answer(text, "reward").strip().lower() == reward, text
        assert extract_answer(text, "judge") == judge, text
    assert extract_answer(None) == "" and extract_answer(" x ", "none") == " x "
    with pytest.raises(ValueError, match="Unknown answer extraction rule 'boxed'; use one of sft, reward, judge"):
        extract_answer("x", "boxed")


def test_boxed_answers_are_scored():
    gold = ["anger", "sad", "happy"]
    pred = ["<think>Loud, fast.</think>\\boxed{Anger}", "Sad. The voice is low", "\\boxed{happy.}"]
    m = classification_metrics(gold, pred, task=REGISTRY.get("tess"))
    # anger and sad read right; "happy." keeps its period inside the box: wrong, as the benchmark
    assert m["accuracy"] == pytest.approx(2 / 3) and m["n_invalid"] == 1


def test_qa_judge_gets_the_benchmarks_inputs():
    seen = []

    def judge(problem, answer, prediction):
        seen.append((answer, prediction))
        return 1.0

    q = qa_metrics(["q"], ["He Leaves"], ["<think>...</think>\\boxed{he leaves the room}"], judge=judge)
    assert seen == [("he leaves", "he leaves the room")] and q["judged_accuracy"] == 1.0
    assert q["exact_match"] == 0.0


# ------------------------------------------------------------------ registry
# unified_label_map.json, dataset_labels (sorted there; compared as sets)
DATASET_LABELS = {
    "chsimsv2": ["highly negative", "highly positive", "neutral", "weakly negative", "weakly positive"],
    "cremad": ["anger", "disgust", "fear", "happy", "neutral", "sad"], "daicwoz": ["depression", "no depression"],
    "meld_emotion": ["anger", "disgust", "fear", "happy", "neutral", "sad", "surprise"],
    "meld_senti": ["negative", "neutral", "positive"], "mmpsy_anxiety": ["anxiety", "no anxiety"],
    "mmpsy_depression": ["depression", "no depression"], "mmsd": ["not sarcasm", "sarcasm"],
    "mosei_emotion": ["anger", "disgust", "fear", "happy", "sad", "surprise"],
    "mosei_senti": ["highly negative", "highly positive", "negative", "neutral", "positive", "weakly negative",
                    "weakly positive"],
    "ptsd_in_the_wild": ["no ptsd", "ptsd"],
    "tess": ["anger", "disgust", "fear", "happy", "neutral", "sad", "surprise"], "urfunny": ["humour", "not humour"],
}


def test_registry_labels_are_the_unified_label_maps():
    for dataset, labels in DATASET_LABELS.items():
        assert set(REGISTRY.get(dataset).labels) == set(labels), dataset
    assert REGISTRY.get("mosei_senti").labels == SENTIMENT_LEVELS
    assert REGISTRY.get("mmsd").label_domain == "sarcasm" and REGISTRY.get("daicwoz").label_domain == \
        "mental_health_depression"


def test_a_registry_naming_an_undefined_label_domain_is_refused(tmp_path):
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({
        "groups": {"g": ""}, "domains": {"d": {"group": "g", "metrics": ["classification"]}},
        "datasets": {"x": {"domain": "d", "task": "cls", "labels": ["a"], "label_domain": "nope"}}}))
    with pytest.raises(bitbox.ParameterError, match="dataset 'x' names the label domain 'nope', which 'label_domains' "
                                                    "does not define"):
        TaskRegistry.from_file(path)


def test_synonyms_without_a_task_is_refused():
    with pytest.raises(ValueError, match="synonyms=True needs the dataset's task=TaskInfo with a label domain"):
        classification_metrics(["yes"], ["yes"], synonyms=True)


def test_a_missing_prediction_is_wrong_but_neither_invalid_nor_a_class():
    # gold a a b b; predictions a, (none), b, c: accuracy 2/4
    for average, n_classes in (("gold", 2), ("gold_and_predicted", 3)):  # c is an answer; "" is not
        m = classification_metrics(["a", "a", "b", "b"], ["a", "", "b", "c"], label_set=("a", "b"),
                                   average=average, extract="none")
        assert m["accuracy"] == 0.5 and m["n_invalid"] == 1 and m["n_empty"] == 1
        # a: P 1, R 1/2, F1 2/3; b: P 1, R 1/2, F1 2/3; c (union only): 0
        assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / n_classes)
