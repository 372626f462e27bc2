"""The confidence model: fitted on questions with known answers, written as reviewed data,
read back, and used by the matcher to answer, offer choices or decline."""

from __future__ import annotations

import io
import json
import random
import shutil
from pathlib import Path

import pytest

from bot.catalogue.files import read_catalogue
from bot.commands.eval import run_calibrate, run_eval
from bot.config import CatalogueConfig, Config
from bot.search import Decision, Matcher, load_vocabulary
from bot.search.confidence import (
    CONFIDENCE_FILE,
    FEATURES,
    ConfidenceError,
    Example,
    Targets,
    confidence_text,
    fit_confidence,
    read_confidence,
)

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "fixtures" / "questions"


def synthetic(count: int, seed: int = 7) -> list[Example]:
    """Questions whose best score says how likely the first candidate is right."""
    rng = random.Random(seed)
    examples = []
    for _ in range(count):
        best = rng.random()
        features = [rng.random() for _ in FEATURES]
        features[0] = best
        in_scope = rng.random() < 0.85
        right = in_scope and rng.random() < best
        rank = 1 if right else (rng.choice([2, 3, None]) if in_scope else None)
        examples.append(Example(tuple(features), rank, in_scope))
    return examples


def test_the_fit_follows_the_evidence_and_meets_its_targets() -> None:
    examples = synthetic(600)
    model = fit_confidence(examples, Targets(max_answered_wrong=0.05))
    low = model.predict([0.05, *[0.5] * (len(FEATURES) - 1)])
    high = model.predict([0.95, *[0.5] * (len(FEATURES) - 1)])
    assert high[0] > low[0] and high[1] > low[1]
    real = [e for e in examples if e.in_scope]
    answered = [e for e in real if model.predict(e.features)[0] >= model.answer_at]
    wrong = sum(1 for e in answered if e.rank != 1)
    assert wrong / len(real) <= 0.05
    with pytest.raises(ValueError, match="no questions"):
        fit_confidence([])


def test_the_model_round_trips_through_its_file(tmp_path: Path) -> None:
    model = fit_confidence(synthetic(200), trained_on="synthetic")
    path = tmp_path / CONFIDENCE_FILE
    path.write_text(confidence_text(model), encoding="utf-8")
    read = read_confidence(path)
    assert read is not None
    assert read.trained_on == "synthetic" and read.answer_at == model.answer_at
    features = synthetic(1, seed=3)[0].features
    assert read.predict(features) == pytest.approx(model.predict(features), abs=1e-4)
    assert read_confidence(tmp_path / "none.toml") is None
    path.write_text(path.read_text().replace('"best"', '"other"'), encoding="utf-8")
    with pytest.raises(ConfidenceError, match=rf"{CONFIDENCE_FILE}: fitted for features"):
        read_confidence(path)
    path.write_text("features = 1\n", encoding="utf-8")
    with pytest.raises(ConfidenceError, match="not a confidence model"):
        read_confidence(path)


def config_with(vocabulary: Path) -> Config:
    return Config(catalogue=CatalogueConfig(path=ROOT / "procedures", vocabulary=vocabulary))


def test_calibrate_then_eval_shows_the_curve_and_the_matcher_uses_the_model(
    tmp_path: Path,
) -> None:
    shutil.copy(ROOT / "procedures" / "_vocabulary.toml", tmp_path / "_vocabulary.toml")
    config = config_with(tmp_path / "_vocabulary.toml")
    out = io.StringIO()
    status = run_calibrate(
        config,
        ROOT / "procedures",
        [QUESTIONS / "shipped.jsonl"],
        tmp_path / CONFIDENCE_FILE,
        out,
    )
    assert status == 0, out.getvalue()
    assert "fitted on 1" in out.getvalue() and "written to" in out.getvalue()
    model = read_confidence(tmp_path / CONFIDENCE_FILE)
    assert model is not None and "shipped.jsonl" in model.trained_on

    report = io.StringIO()
    assert (
        run_eval(config, ROOT / "procedures", QUESTIONS / "shipped.jsonl", True, False, report)
        == 0
    )
    figures = json.loads(report.getvalue())
    curve = figures["curve"]
    assert [point["at"] for point in curve] == [k / 10 for k in range(1, 10)]
    coverage = [point["coverage"] for point in curve]
    assert coverage == sorted(coverage, reverse=True)  # a higher bar offers less
    assert figures["answered_wrong"] <= 0.05 and figures["top3"] >= 0.9

    catalogue, _ = read_catalogue(ROOT / "procedures")
    matcher = Matcher.build(catalogue, load_vocabulary(tmp_path / "_vocabulary.toml"))
    assert matcher.confidence is not None
    result = matcher.search("làm giấy khai sinh cho con cần gì")
    assert result.decision is Decision.ANSWER and 0.0 < result.confidence <= 1.0
    assert len(result.features) == len(FEATURES)


def test_a_broken_model_file_leaves_the_fixed_floors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copy(ROOT / "procedures" / "_vocabulary.toml", tmp_path / "_vocabulary.toml")
    (tmp_path / CONFIDENCE_FILE).write_text("features = [\n", encoding="utf-8")
    vocabulary = load_vocabulary(tmp_path / "_vocabulary.toml")
    assert vocabulary.confidence is None
    assert any("confidence model not used" in r.message for r in caplog.records)
