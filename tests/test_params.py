"""The one parameter protocol (bitbox.params.ParamsMixin), its constraints, and the conformance rule that
every __init__ parameter of a processor is constrained."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sklearn.base import clone

import bitbox
from bitbox.catalog import Measure
from bitbox.clinical.eeg_factors import EegFactorModel
from bitbox.clinical.hba.baseline import DescriptorBaseline
from bitbox.errors import ParameterError
from bitbox.modelfiles import ModelFileError
from bitbox.params import (Bool, Callable, InstanceOf, Interval, NoneOk, Options, ParamsMixin, PathLike, StrMatching,
                           check_param)
from bitbox.processor import Processor
from bitbox.processors.span_model import SpanCategorizer, default_span_model_path, load_span_model
from bitbox.testing import check_processor, check_processor_class

PROCESSORS = bitbox.available_processors()
#: A model class and parameters other than its defaults.
MODELS = [(SpanCategorizer, {"max_width": 4, "encoder": "/models/encoder", "seed": 3}),
          (EegFactorModel, {"latent_dim": 4, "beta": 4.0, "random_state": 2}),
          (DescriptorBaseline, {"processors": ["speech"], "pooling": "mean", "C": 0.5, "text": False})]


# ---------------------------------------------------------------------------- every class
@pytest.mark.parametrize("name", PROCESSORS)
def test_every_registered_processor_follows_the_protocol_and_constrains_every_parameter(name):
    cls = bitbox.get_processor_class(name)
    assert issubclass(cls, ParamsMixin)
    check_processor_class(cls)  # every __init__ parameter constrained, defaults valid, bad values named
    assert set(cls._parameter_constraints) == set(cls._get_param_names())
    proc = cls()
    assert type(proc)(**proc.get_params()).get_params() == proc.get_params()
    assert proc.get_params(deep=False) == proc.get_params()
    assert repr(proc) == f"{cls.__name__}()"
    copy = clone(proc)  # scikit-learn's clone works on processors
    assert type(copy) is cls and copy.get_params() == proc.get_params() and copy is not proc


@pytest.mark.parametrize("cls, params", MODELS, ids=lambda x: getattr(x, "__name__", ""))
def test_every_model_class_follows_the_protocol(cls, params):
    model = cls(**params)
    assert isinstance(model, ParamsMixin) and set(cls._parameter_constraints) == set(cls._get_param_names())
    got = model.get_params()
    assert list(got) == sorted(got) and {k: got[k] for k in params} == params
    assert type(model)(**model.get_params()).get_params() == model.get_params()
    assert all(got[k] is v for k, v in params.items())  # stored unchanged
    model.validate_params()
    cls().validate_params()  # the defaults are valid
    copy = clone(model)
    assert type(copy) is cls and copy.get_params() == got
    text = repr(model)
    assert text.startswith(f"{cls.__name__}(") and all(f"{k}={v!r}" in text for k, v in params.items())
    assert "hidden_size" not in text and "workers=" not in text and "n_epochs" not in text  # defaults left out
    assert model.set_params(**{next(iter(params)): params[next(iter(params))]}) is model
    with pytest.raises(ParameterError, match=rf"'bogus' is not a parameter of {cls.__name__}\. Valid parameters: "):
        model.set_params(bogus=1)


def test_models_validate_their_parameters_when_fitted(tmp_path):
    with pytest.raises(ParameterError, match=r"The 'max_width' parameter of SpanCategorizer must be a positive "
                                             r"integer\. Got 0 instead\."):
        SpanCategorizer(max_width=0).fit([])
    with pytest.raises(ParameterError, match=r"The 'seed' parameter of SpanCategorizer must be an integer in "
                                             r"\[0, inf\)\. Got -1 instead\."):
        SpanCategorizer(seed=-1).fit([])
    with pytest.raises(ParameterError, match=r"The 'latent_dim' parameter of EegFactorModel must be an integer in "
                                             r"\[1, 64\]\. Got 0 instead\."):
        EegFactorModel(latent_dim=0).fit(None)
    with pytest.raises(ParameterError, match=r"The 'C' parameter of DescriptorBaseline must be a number in "
                                             r"\(0, inf\)\. Got 0 instead\."):
        DescriptorBaseline(C=0).fit([], tmp_path)
    with pytest.raises(ParameterError, match=r"The 'processors' parameter of DescriptorBaseline must be an instance "
                                             r"of list or tuple\. Got 'face' instead\."):
        DescriptorBaseline(processors="face").fit([], tmp_path)
    with pytest.raises(ParameterError, match=r"reads media with face, pose and speech only\. Got \['gaze'\]"):
        DescriptorBaseline(processors=["gaze"]).fit([], tmp_path)


def test_a_span_model_with_invalid_saved_parameters_is_refused_at_load(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(default_span_model_path(), folder)
    config = json.loads((folder / "config.json").read_text())
    config["params"]["max_width"] = 0
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=r"config\.json: holds parameters this version does not accept \(The "
                                             r"'max_width' parameter of SpanCategorizer must be a positive integer"):
        load_span_model(folder)


def test_eeg_factor_model_repr_keeps_saying_whether_it_is_fitted():
    assert repr(EegFactorModel(beta=4.0)) == "EegFactorModel(beta=4.0) [not fitted]"


# ---------------------------------------------------------------------------- the mixin
class Smoother(ParamsMixin):
    _parameter_constraints = {"window": [Interval(int, 1, None)], "mode": [Options(("mean", "median"))],
                              "weights": [InstanceOf(list), NoneOk()], "nan": [Interval(float, None, None)]}

    def __init__(self, *, window=5, mode="mean", weights=None, nan=float("nan")):
        self.window = window
        self.mode = mode
        self.weights = weights
        self.nan = nan


def test_get_set_params_and_repr():
    s = Smoother(window=9)
    assert s.get_params() == {"mode": "mean", "nan": s.nan, "weights": None, "window": 9}
    assert repr(s) == "Smoother(window=9)"  # NaN default: unchanged
    assert repr(Smoother(weights=[1, 2], mode="median")) == "Smoother(mode='median', weights=[1, 2])"
    assert s.set_params(mode="median", window=3) is s and (s.mode, s.window) == ("median", 3)
    with pytest.raises(ParameterError, match=r"^'stride' is not a parameter of Smoother\. Valid parameters: mode, "
                                             r"nan, weights, window\.$"):
        s.set_params(stride=2)
    with pytest.raises(ParameterError, match=r"^'a', 'b' are not parameters of Smoother\."):
        s.set_params(a=1, b=2, window=4)
    assert s.window == 3  # nothing set when a name is unknown
    with pytest.raises(ParameterError, match=r"^The 'mode' parameter of Smoother must be one of 'mean', 'median'\. "
                                             r"Got 'max' instead\.$"):
        Smoother(mode="max").validate_params()


def test_repr_of_array_parameters_does_not_raise():
    np = pytest.importorskip("numpy")

    class Weighted(ParamsMixin):
        def __init__(self, *, weights=None):
            self.weights = weights

    assert repr(Weighted(weights=np.arange(3))) == "Weighted(weights=array([0, 1, 2]))"


def test_args_and_kwargs_are_refused():
    class Loose(ParamsMixin):
        def __init__(self, *args, **kwargs):
            pass

    with pytest.raises(TypeError, match=r"Loose.__init__ must list its parameters explicitly"):
        Loose().get_params()


def test_no_init_means_no_parameters():
    class Plain(ParamsMixin):
        pass

    assert Plain().get_params() == {} and repr(Plain()) == "Plain()"
    with pytest.raises(ParameterError, match="Valid parameters: none"):
        Plain().set_params(x=1)


# ---------------------------------------------------------------------------- constraints
@pytest.mark.parametrize("constraints, good, bad, message", [
    ([Interval(int, 1, None, description="a positive integer")], [1, 7], [0, 1.5, True],
     "must be a positive integer"),
    ([Interval(float, 0, 1, closed="left")], [0, 0.5], [1, -0.1, float("nan"), "0.5"], r"must be a number in \[0, 1\)"),
    ([Options(("a", "b"))], ["a"], ["c", None], "must be one of 'a', 'b'"),
    ([Bool()], [True, False], [0, 1, "yes", None], "must be a bool"),
    ([InstanceOf(dict), NoneOk()], [{}, {"769": "left"}, None], [[], "x"], "must be an instance of dict or None"),
    ([InstanceOf(list, tuple)], [[], ("a",)], ["ab", {"a"}], "must be an instance of list or tuple"),
    ([InstanceOf(int)], [1], [True, 1.0], "must be an instance of int"),
    ([PathLike()], ["model", Path("model"), Path(".")], ["", 3, None, b"bytes"],
     r"must be a path \(a non-empty str or os\.PathLike\)"),
    ([PathLike(), NoneOk()], [None, "x"], [0], r"must be a path \(a non-empty str or os\.PathLike\) or None"),
    ([Callable()], [len, Smoother, lambda: 0], [None, "len"], "must be a callable"),
    ([StrMatching(r"[a-z]{2,3}")], ["en", "haw"], ["EN", "english", "", 2], r"must be a str matching '\[a-z\]\{2,3\}'"),
    ([StrMatching(r"[a-z]{2,3}", "a language code such as 'en'")], ["de"], ["de-DE"],
     "must be a language code such as 'en'"),
])
def test_each_constraint_accepts_and_refuses_with_the_message(constraints, good, bad, message):
    for value in good:
        check_param("p", value, *constraints, owner="Thing")
    for value in bad:
        with pytest.raises(ParameterError, match=rf"^The 'p' parameter of Thing {message}\. "
                                                 + re.escape(f"Got {value!r} instead.") + "$"):
            check_param("p", value, *constraints, owner="Thing")


def test_constraint_definitions_are_checked():
    with pytest.raises(TypeError, match="InstanceOf needs one or more types"):
        InstanceOf()
    with pytest.raises(TypeError, match="InstanceOf needs one or more types"):
        InstanceOf("dict")
    with pytest.raises(re.error):
        StrMatching("[unclosed")


# ---------------------------------------------------------------------------- conformance
class _Base(Processor):
    name = "unconstrained"
    version = "1"
    input_kinds = ("text",)
    measures = (Measure("n", "1", "Words.", "summary", (0, 1e9)),)

    def compute(self, recording, sink, progress=None):
        sink.append(pd.DataFrame({"time_s": [0.0]}))
        return {"n": 1.0}


class Unconstrained(_Base):
    _parameter_constraints = {"step": [Interval(int, 1, None)]}

    def __init__(self, *, step=1, model=None, language="en"):
        self.step = step
        self.model = model
        self.language = language


def test_check_processor_fails_on_a_parameter_without_constraints(tmp_path):
    text = tmp_path / "a.txt"
    text.write_text("some words\n")
    message = (r"Unconstrained.__init__ parameter\(s\) 'language', 'model' have no entry in _parameter_constraints: "
               r"every parameter must declare the values it accepts")
    with pytest.raises(AssertionError, match=message):
        check_processor(Unconstrained, text)
    with pytest.raises(AssertionError, match=message):
        check_processor_class(Unconstrained())

    class Constrained(Unconstrained):
        _parameter_constraints = {**Unconstrained._parameter_constraints, "model": [PathLike(), NoneOk()],
                                  "language": [StrMatching("[a-z]{2}")]}

    check_processor_class(Constrained)


def test_check_processor_fails_on_bad_constraint_entries():
    class Stale(Unconstrained):
        _parameter_constraints = {"step": [Interval(int, 1, None)], "model": [NoneOk()], "language": [Bool()],
                                  "gone": [Bool()]}

    with pytest.raises(AssertionError, match=r"names 'gone', which is not an __init__ parameter"):
        check_processor_class(Stale)

    class Empty(Unconstrained):
        _parameter_constraints = {"step": [], "model": [NoneOk()], "language": [Bool()]}

    with pytest.raises(AssertionError, match=r"_parameter_constraints\['step'\] must be a non-empty list"):
        check_processor_class(Empty)

    class NotAConstraint(Unconstrained):
        _parameter_constraints = {"step": [int], "model": [NoneOk()], "language": [Bool()]}

    with pytest.raises(AssertionError, match=r"holds <class 'int'>, which is not a constraint"):
        check_processor_class(NotAConstraint)

    class BadDefault(Unconstrained):
        _parameter_constraints = {"step": [Interval(int, 1, None)], "model": [NoneOk()], "language": [Bool()]}

    with pytest.raises(AssertionError, match=r"the default parameters do not pass validate_params\(\): The "
                                             r"'language' parameter of BadDefault must be a bool"):
        check_processor_class(BadDefault)


def test_sklearn_estimators_keep_sklearn_behaviour():
    from bitbox.clinical.transdiagnostic.models import MLPHead

    head = MLPHead(hidden=16, lr=1e-3)
    copy = clone(head)
    assert type(copy) is MLPHead and copy.get_params() == head.get_params() and copy.hidden == 16
