"""`bot eval`: how well citizens' questions find their procedures, in numbers.

Staff run it after editing the catalogue or the vocabulary to see whether answers got
better or worse:

    bot eval --catalogue procedures --questions questions.jsonl [--json] [--failures]
    bot eval --catalogue procedures --questions a.jsonl --questions b.jsonl --calibrate OUT

This module reads the inputs and prints; the measuring itself (questions file, figures,
the confidence curve, calibration examples) is bot.search.evaluation.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from bot.catalogue.files import CatalogueError, load_catalogue
from bot.catalogue.model import Catalogue
from bot.config import Config
from bot.search.confidence import confidence_text, fit_confidence
from bot.search.evaluation import (
    Outcome,
    QuestionsError,
    Report,
    acceptable,
    calibration_examples,
    evaluate,
    read_questions,
)
from bot.search.matcher import Matcher
from bot.search.vocabulary import VocabularyError, load_vocabulary


def load_catalogue_source(path: Path) -> Catalogue:
    """A procedures folder, or any source the importers read, loaded in memory."""
    if path.is_dir():
        catalogue, _problems = load_catalogue(path)
        return catalogue
    if not path.exists():
        raise CatalogueError(f"{path}: no such catalogue folder or file")
    # Imported here: only `bot eval` on an export file needs the importers.
    from bot.catalogue.importers import CatalogueImportError
    from bot.catalogue.importers import load_catalogue_source as import_source

    try:
        return import_source(path)
    except CatalogueImportError as exc:
        raise CatalogueError(str(exc)) from None


def run_eval(
    config: Config,
    catalogue_path: Path,
    questions_path: Path,
    as_json: bool,
    show_failures: bool,
    out: TextIO,
) -> int:
    """The `bot eval` command; returns the exit status (2 when inputs cannot be read)."""
    try:
        catalogue = load_catalogue_source(catalogue_path)
        vocabulary = load_vocabulary(config.catalogue.vocabulary)
        questions = read_questions(questions_path)
    except (CatalogueError, VocabularyError, QuestionsError) as exc:
        print(f"bot eval: {exc}", file=out)
        return 2
    matcher = Matcher.build(
        catalogue,
        vocabulary,
        preferred_levels=config.search.preferred_levels,
        max_choices=config.search.max_choices,
    )
    report = evaluate(matcher, questions)
    if as_json:
        figures = dict(report.figures)
        if show_failures:
            figures["failures"] = [_failure_data(o) for o in _failures(report.outcomes)]
        print(json.dumps(figures, ensure_ascii=False), file=out)
        return 0
    _print_table(report, out)
    if show_failures:
        _print_failures(report.outcomes, out)
    return 0


def _failures(outcomes: Iterable[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not o.passed]


def _failure_data(outcome: Outcome) -> dict[str, Any]:
    return {
        "id": outcome.question.id,
        "question": outcome.question.text,
        "expected": list(outcome.question.expected),
        "decision": outcome.result.decision.value,
        "shown": list(outcome.shown_codes),
        "top": [
            {"code": c.procedure.code, "name": c.procedure.name, "score": c.score}
            for c in outcome.result.candidates[:3]
        ],
    }


def _print_table(report: Report, out: TextIO) -> None:
    figures = report.figures
    for key in (
        "questions",
        "in_scope",
        "top1",
        "top3",
        "mrr",
        "answered_wrong",
        "declined_out_of_scope",
        "latency_ms_p50",
        "latency_ms_p99",
        "intent_accuracy",
    ):
        if key in figures:
            print(f"{key:24} {_show(figures[key])}", file=out)
    if figures.get("curve"):
        print("\nconfidence curve: at  coverage  precision  declined_out_of_scope", file=out)
        for point in figures["curve"]:
            print(
                f"  {point['at']:>19.1f}  {_show(point['coverage']):>8}  "
                f"{_show(point['precision']):>9}  {_show(point['declined_out_of_scope']):>8}",
                file=out,
            )
    for group in ("by_intent", "by_style"):
        if group not in figures:
            continue
        print(f"\n{group}: {'':14} n   top1   top3  wrong  declined", file=out)
        for name, values in figures[group].items():
            print(
                f"  {name:22} {values['questions']:3} {_show(values['top1']):>6} "
                f"{_show(values['top3']):>6} {_show(values['answered_wrong']):>6} "
                f"{_show(values['declined_out_of_scope']):>8}",
                file=out,
            )


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _print_failures(outcomes: Iterable[Outcome], out: TextIO) -> None:
    failures = _failures(outcomes)
    print(f"\n{len(failures)} misses:", file=out)
    for outcome in failures:
        question = outcome.question
        expected = ", ".join(question.expected) or "(decline)"
        print(
            f"\n[{question.id}] {question.text}\n  expected {expected}; got "
            f"{outcome.result.decision.value}"
            + (
                f" ({outcome.result.decline_reason.value})"
                if outcome.result.decline_reason
                else ""
            ),
            file=out,
        )
        for candidate in outcome.result.candidates[:3]:
            mark = "*" if acceptable(candidate.procedure.code, question.expected) else " "
            print(
                f"  {mark} {candidate.score:.2f} {candidate.procedure.code} "
                f"{candidate.procedure.name[:90]}",
                file=out,
            )


def run_calibrate(
    config: Config,
    catalogue_path: Path,
    question_paths: Sequence[Path],
    into: Path,
    out: TextIO,
) -> int:
    """`bot eval --calibrate FILE`: fit the confidence model on question sets with known
    answers and write it (bot.search.confidence); prints what it keeps on them."""
    try:
        catalogue = load_catalogue_source(catalogue_path)
        vocabulary = load_vocabulary(config.catalogue.vocabulary)
        sets = [read_questions(path) for path in question_paths]
    except (CatalogueError, VocabularyError, QuestionsError) as exc:
        print(f"bot eval: {exc}", file=out)
        return 2
    # Fitted on the fixed floors' candidates: the model only decides, it does not rank.
    matcher = Matcher.build(
        catalogue,
        dataclasses.replace(vocabulary, confidence=None),
        preferred_levels=config.search.preferred_levels,
        max_choices=config.search.max_choices,
    )
    examples = calibration_examples(matcher, sets)
    names = ", ".join(path.name for path in question_paths)
    try:
        model = fit_confidence(examples, trained_on=f"{catalogue_path.name}: {names}")
    except ValueError as exc:
        print(f"bot eval: {exc}", file=out)
        return 2
    try:
        into.write_text(confidence_text(model), encoding="utf-8")
    except OSError as exc:
        print(f"bot eval: cannot write {into}: {exc.strerror}", file=out)
        return 1
    print(
        f"fitted on {len(examples)} questions; answer at p >= {model.answer_at:.2f}, "
        f"offer choices at p >= {model.offer_at:.2f}; written to {into}",
        file=out,
    )
    return 0
