"""Measuring how well citizens' questions find their procedures, in numbers.

    report = evaluate(matcher, read_questions(path))   # report.figures: top1, top3, mrr...
    calibration_examples(matcher, sets)                # what the confidence model fits on

`bot eval` (bot/commands/eval.py) reads the inputs and prints these figures.

Questions are JSON lines: `question`, `expected` (acceptable codes, most likely first;
empty for a message the bot should decline) and optionally `intent` and `style` (a
string or a list), which add breakdowns. The candidates of a question are what the bot
would show (`SearchResult.shown`): the answer, the clarify choices in order, or none.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.search.confidence import Example
from bot.search.matcher import Matcher
from bot.search.result import Decision, DeclineReason, SearchResult


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


def calibration_examples(matcher: Matcher, sets: Sequence[Sequence[Question]]) -> list[Example]:
    """What the confidence model is fitted on: each question's features, the place of its
    first acceptable candidate, whether it has an answer, and whether a rule decided it."""
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
    return examples
