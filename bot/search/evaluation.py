"""`bot eval`: how well citizens' questions find their procedures, in numbers.

Staff run it after editing the catalogue or the vocabulary to see whether answers got
better or worse:

    bot eval --catalogue procedures --questions questions.jsonl [--json] [--failures]

Questions are JSON lines: `question`, `expected` (acceptable codes, most likely first;
empty for a message the bot should decline) and optionally `intent` and `style` (a
string or a list), which add breakdowns. The candidates of a question are what the bot
would show (`SearchResult.shown`): the answer, the clarify choices in order, or none.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.catalogue.files import CatalogueError, load_catalogue
from bot.catalogue.model import Catalogue
from bot.config import Config
from bot.search.confidence import Example, confidence_text, fit_confidence
from bot.search.matcher import Matcher
from bot.search.result import Decision, DeclineReason, SearchResult
from bot.search.vocabulary import VocabularyError, load_vocabulary


class QuestionsError(Exception):
    """The questions file cannot be read; the message is `file:line: what is wrong`."""


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    expected: tuple[str, ...]
    intent: str = ""
    styles: tuple[str, ...] = ()
    id: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    question: Question
    result: SearchResult
    latency_ms: float

    @property
    def shown_codes(self) -> tuple[str, ...]:
        return tuple(c.procedure.code for c in self.result.shown)

    @property
    def rank(self) -> int | None:
        """1-based position of the first acceptable shown procedure, None if none is."""
        for position, code in enumerate(self.shown_codes, start=1):
            if acceptable(code, self.question.expected):
                return position
        return None

    @property
    def in_scope(self) -> bool:
        return bool(self.question.expected)

    @property
    def passed(self) -> bool:
        if not self.in_scope:
            return self.result.decision is Decision.DECLINE
        return self.rank == 1


def acceptable(code: str, expected: Sequence[str]) -> bool:
    """Whether `code` is one of the expected codes; a province's suffixed code
    ("1.001193.000.00.00.H37") is the national procedure it extends."""
    return code in expected or any(code.startswith(f"{e}.") for e in expected)


@dataclass(frozen=True)
class Report:
    outcomes: tuple[Outcome, ...]
    figures: dict[str, Any] = field(default_factory=dict)


def read_questions(path: Path) -> list[Question]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionsError(f"{path}: cannot read questions: {exc}") from None
    questions: list[Question] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionsError(f"{path}:{number}: not valid JSON: {exc.msg}") from None
        if not isinstance(data, dict) or not isinstance(data.get("question"), str):
            raise QuestionsError(f'{path}:{number}: each line needs a "question" string')
        expected = data.get("expected", [])
        if not isinstance(expected, list) or not all(isinstance(c, str) for c in expected):
            raise QuestionsError(f'{path}:{number}: "expected" must be a list of codes')
        styles = data.get("style", [])
        if isinstance(styles, str):
            styles = [styles]
        if not isinstance(styles, list):
            raise QuestionsError(f'{path}:{number}: "style" must be a string or a list')
        questions.append(
            Question(
                text=data["question"],
                expected=tuple(expected),
                intent=str(data.get("intent", "") or ""),
                styles=tuple(str(s) for s in styles),
                id=str(data.get("id", number)),
            )
        )
    if not questions:
        raise QuestionsError(f"{path}: no questions")
    return questions


def evaluate(matcher: Matcher, questions: Sequence[Question]) -> Report:
    outcomes: list[Outcome] = []
    for question in questions:
        started = time.perf_counter()
        result = matcher.search(question.text)
        elapsed = (time.perf_counter() - started) * 1000.0
        outcomes.append(Outcome(question, result, elapsed))
    return Report(tuple(outcomes), _figures(outcomes))


def _figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    figures = _quality(outcomes)
    curve = _curve(outcomes)
    if curve:
        figures["curve"] = curve
    latencies = sorted(o.latency_ms for o in outcomes)
    figures["latency_ms_p50"] = round(_percentile(latencies, 50), 3)
    figures["latency_ms_p99"] = round(_percentile(latencies, 99), 3)
    by_intent: dict[str, list[Outcome]] = defaultdict(list)
    by_style: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.question.intent:
            by_intent[outcome.question.intent].append(outcome)
        for style in outcome.question.styles:
            by_style[style].append(outcome)
    if by_intent:
        figures["by_intent"] = {k: _quality(v) for k, v in sorted(by_intent.items())}
        labelled = [o for o in outcomes if o.question.intent and o.in_scope]
        if labelled:
            right = sum(1 for o in labelled if o.result.intent.value == o.question.intent)
            figures["intent_accuracy"] = round(right / len(labelled), 4)
    if by_style:
        figures["by_style"] = {k: _quality(v) for k, v in sorted(by_style.items())}
    return figures


def _quality(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    in_scope = [o for o in outcomes if o.in_scope]
    out_of_scope = [o for o in outcomes if not o.in_scope]
    ranks = [o.rank for o in in_scope]
    answered_wrong = sum(
        1 for o in in_scope if o.result.decision is Decision.ANSWER and o.rank != 1
    )
    declined = sum(1 for o in out_of_scope if o.result.decision is Decision.DECLINE)
    return {
        "questions": len(outcomes),
        "in_scope": len(in_scope),
        "top1": _share(sum(1 for r in ranks if r == 1), len(in_scope)),
        "top3": _share(sum(1 for r in ranks if r is not None and r <= 3), len(in_scope)),
        "mrr": _share(sum(1.0 / r for r in ranks if r is not None), len(in_scope)),
        "answered_wrong": _share(answered_wrong, len(in_scope)),
        "declined_out_of_scope": _share(declined, len(out_of_scope)),
    }


# Declines that no confidence threshold changes: the message is not a procedure question.
_RULED = frozenset(
    {
        DeclineReason.GREETING,
        DeclineReason.SMALL_TALK,
        DeclineReason.COMPLAINT,
        DeclineReason.PRIVATE_DATA,
        DeclineReason.EMPTY,
        DeclineReason.REFER,
        DeclineReason.NOT_OURS,
    }
)


def _curve(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """Precision against coverage as the offering threshold moves (with a fitted
    confidence model): at each threshold, the share of real questions offered choices or
    an answer (coverage), the share of those whose first three candidates hold a right one
    (precision), and the share of out-of-scope messages declined."""
    scored = [o for o in outcomes if o.result.features]
    if not scored or all(o.result.confidence == 0.0 for o in scored):
        return []
    real = [o for o in outcomes if o.in_scope]
    other = [o for o in outcomes if not o.in_scope]
    points: list[dict[str, Any]] = []
    for step in range(1, 10):
        at = step / 10

        def offered(o: Outcome, at: float = at) -> bool:
            if o.result.decline_reason in _RULED:
                return False
            return o.result.taught or (bool(o.result.features) and o.result.confidence >= at)

        covered = [o for o in real if offered(o)]
        right = [o for o in covered if _rank_in(o, 3)]
        points.append(
            {
                "at": at,
                "coverage": _share(len(covered), len(real)),
                "precision": _share(len(right), len(covered)),
                "declined_out_of_scope": _share(
                    sum(1 for o in other if not offered(o)), len(other)
                ),
            }
        )
    return points


def _rank_in(outcome: Outcome, places: int) -> bool:
    """Whether a right procedure is among the first `places` candidates."""
    return any(
        acceptable(c.procedure.code, outcome.question.expected)
        for c in outcome.result.candidates[:places]
    )


def _share(count: float, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _percentile(values: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile of sorted values (0 when empty)."""
    if not values:
        return 0.0
    rank = max(1, min(len(values), round(percent / 100.0 * len(values) + 0.5)))
    return values[rank - 1]


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
    examples: list[Example] = []
    for questions in sets:
        for question in questions:
            result = matcher.search(question.text)
            # Decided by a rule (a code, small talk, ...) whatever the confidence.
            ruled = not result.features or result.decline_reason in _RULED
            rank = next(
                (
                    place
                    for place, c in enumerate(result.candidates, start=1)
                    if acceptable(c.procedure.code, question.expected)
                ),
                None,
            )
            examples.append(Example(result.features, rank, bool(question.expected), ruled))
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
