"""How sure the matcher is: calibrated probabilities instead of fixed score floors.

A fixed floor on the best score declined half of the real questions in long messages
(their best match explains only part of a long story, so it scores low) while it let
small talk through that happened to share a few words with a name. What tells them apart
is several signals together: how well the best name fits, how much it stands out, how
much of the message it explains and how much of the message no procedure knows, whether
the message describes a life event, whether its choices agree on a field...

`ConfidenceModel` turns those signals into two probabilities, fitted by logistic
regression on question sets with known answers (`bot eval --calibrate`):

    p_answer  the best match is the procedure meant          -> answer it
    p_offer   the procedure meant is among the first choices  -> offer the choices

and the two thresholds that keep wrong answers rare and most out-of-scope messages
declined. The fitted model is reviewed data, `procedures/_confidence.toml`, read with the
vocabulary; without it the matcher keeps its fixed floors. Pure: numpy only, no I/O
beyond reading and writing that file.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

CONFIDENCE_FILE = "_confidence.toml"

# The signals, in this order (Matcher._features computes them).
FEATURES = (
    "best",  # score of the best match (0..~1.3)
    "margin",  # best - second
    "ratio",  # second / best
    "recall",  # share of the message the best name explains
    "precision",  # share of the best name the message asked about
    "mass",  # log(1 + what the message weighs): long messages weigh more
    "unknown",  # share of the message's weight in words no procedure has
    "event",  # the best match belongs to a life event the message describes
    "same_field",  # share of the first three choices in the best one's field
    "vocabulary",  # everyday words were translated to catalogue words
    "small_talk",  # a small-talk phrase in the clause that asks
    "elsewhere",  # a service of another agency is named
    "focus_named",  # the clause that asks names procedure words of its own
)


class ConfidenceError(Exception):
    """The confidence file cannot be used; the message says why (`file: ...`)."""


@dataclass(frozen=True)
class ConfidenceModel:
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    answer_weights: tuple[float, ...]
    answer_bias: float
    offer_weights: tuple[float, ...]
    offer_bias: float
    answer_at: float  # answer when p_answer is at least this
    offer_at: float  # offer choices when p_offer is at least this
    trained_on: str = ""  # which question sets, for the reader

    def predict(self, features: Sequence[float]) -> tuple[float, float]:
        """(p_answer, p_offer) for one message's features."""
        values = [(f - m) / s for f, m, s in zip(features, self.mean, self.scale, strict=True)]
        answer = self.answer_bias + sum(
            w * v for w, v in zip(self.answer_weights, values, strict=True)
        )
        offer = self.offer_bias + sum(
            w * v for w, v in zip(self.offer_weights, values, strict=True)
        )
        return _sigmoid(answer), _sigmoid(offer)


def _sigmoid(value: float) -> float:
    if value < -40.0:
        return 0.0
    return 1.0 / (1.0 + math.exp(-value))


# --- the file -----------------------------------------------------------------------------


def read_confidence(path: Path) -> ConfidenceModel | None:
    """The model in `path`, None when the file does not exist; ConfidenceError if broken."""
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfidenceError(f"{path}: cannot read: {exc}") from None
    try:
        names = tuple(data["features"])
        if names != FEATURES:
            raise ConfidenceError(
                f"{path}: fitted for features {list(names)}, this version has "
                f"{list(FEATURES)}: fit it again with `bot eval --calibrate`"
            )
        return ConfidenceModel(
            mean=_floats(data["mean"]),
            scale=_floats(data["scale"]),
            answer_weights=_floats(data["answer"]["weights"]),
            answer_bias=float(data["answer"]["bias"]),
            offer_weights=_floats(data["offer"]["weights"]),
            offer_bias=float(data["offer"]["bias"]),
            answer_at=float(data["answer"]["at"]),
            offer_at=float(data["offer"]["at"]),
            trained_on=str(data.get("trained_on", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfidenceError(f"{path}: not a confidence model ({exc})") from None


def _floats(values: Any) -> tuple[float, ...]:
    found = tuple(float(v) for v in values)
    if len(found) != len(FEATURES):
        raise ValueError(f"{len(found)} values for {len(FEATURES)} features")
    return found


def confidence_text(model: ConfidenceModel) -> str:
    header = (
        "# How sure the matcher is (bot.search.confidence): two logistic models over the\n"
        "# signals below, fitted by `bot eval --calibrate` on question sets with known\n"
        "# answers. answer.at / offer.at are the probabilities from which the bot answers\n"
        "# outright / offers its first choices; below offer.at it declines.\n"
    )
    data = {
        "trained_on": model.trained_on,
        "features": list(FEATURES),
        "mean": [round(v, 6) for v in model.mean],
        "scale": [round(v, 6) for v in model.scale],
        "answer": {
            "at": round(model.answer_at, 4),
            "bias": round(model.answer_bias, 6),
            "weights": [round(v, 6) for v in model.answer_weights],
        },
        "offer": {
            "at": round(model.offer_at, 4),
            "bias": round(model.offer_bias, 6),
            "weights": [round(v, 6) for v in model.offer_weights],
        },
    }
    return header + "\n" + tomli_w.dumps(data)


# --- fitting ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Example:
    features: tuple[float, ...]
    rank: int | None  # 1-based place of the first right procedure among the candidates
    in_scope: bool
    # Declined by a rule whatever the confidence (small talk, "xong rồi, giờ ..."): not
    # fitted on, but counted when the thresholds are chosen.
    ruled: bool = False


@dataclass(frozen=True, slots=True)
class Targets:
    """What the thresholds must keep, on the fitting questions."""

    max_answered_wrong: float = 0.03  # of the real questions
    # Of the messages that are not procedure questions, counting those a rule declines
    # (small talk, "xong rồi, giờ ..."): a citizen with a real question should get choices
    # rather than a dead end, so the bar is below what the rules reach on their own.
    min_declined_out_of_scope: float = 0.87
    offered: int = 3  # choices that count as "offered"


def fit_confidence(
    examples: Sequence[Example], targets: Targets = Targets(), trained_on: str = ""
) -> ConfidenceModel:
    """Fit both models, then the thresholds that meet `targets` and offer the right
    procedure to as many real questions as possible."""
    fitted = [e for e in examples if not e.ruled and e.features]
    if not fitted:
        raise ValueError("no questions to fit on")
    x = np.array([e.features for e in fitted], dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    first = np.array([1.0 if e.in_scope and e.rank == 1 else 0.0 for e in fitted])
    offered = np.array([1.0 if _offered(e, targets) else 0.0 for e in fitted])
    answer_w, answer_b = _logistic(z, first)
    offer_w, offer_b = _logistic(z, offered)
    p_answer = 1.0 / (1.0 + np.exp(-(z @ answer_w + answer_b)))
    p_offer = 1.0 / (1.0 + np.exp(-(z @ offer_w + offer_b)))
    ruled = [e for e in examples if e.ruled or not e.features]
    answer_at, offer_at = _thresholds(fitted, ruled, p_answer, p_offer, targets)
    return ConfidenceModel(
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        answer_weights=tuple(float(v) for v in answer_w),
        answer_bias=float(answer_b),
        offer_weights=tuple(float(v) for v in offer_w),
        offer_bias=float(offer_b),
        answer_at=answer_at,
        offer_at=offer_at,
        trained_on=trained_on,
    )


def _offered(example: Example, targets: Targets) -> bool:
    return example.in_scope and example.rank is not None and example.rank <= targets.offered


def _logistic(
    z: np.ndarray[Any, np.dtype[np.float64]],
    y: np.ndarray[Any, np.dtype[np.float64]],
    l2: float = 1.0,
    steps: int = 4000,
    rate: float = 0.2,
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], float]:
    """Logistic regression by gradient descent (L2 on the weights, not the bias)."""
    weights = np.zeros(z.shape[1])
    bias = 0.0
    n = len(y)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ weights + bias)))
        error = p - y
        weights -= rate * (z.T @ error / n + l2 * weights / n)
        bias -= rate * float(error.mean())
    return weights, bias


def _thresholds(
    examples: Sequence[Example],
    ruled: Sequence[Example],
    p_answer: np.ndarray[Any, np.dtype[np.float64]],
    p_offer: np.ndarray[Any, np.dtype[np.float64]],
    targets: Targets,
) -> tuple[float, float]:
    """The thresholds, judged on every question: those a rule declines count as declined."""
    in_scope = [i for i, e in enumerate(examples) if e.in_scope]
    out_of_scope = [i for i, e in enumerate(examples) if not e.in_scope]
    real_total = len(in_scope) + sum(1 for e in ruled if e.in_scope)
    other_total = len(out_of_scope) + sum(1 for e in ruled if not e.in_scope)
    ruled_out = sum(1 for e in ruled if not e.in_scope)
    grid = [round(0.05 * k, 2) for k in range(1, 20)]
    answer_at = 0.95
    for at in sorted(grid, reverse=True):  # the lowest that keeps wrong answers rare
        wrong = sum(1 for i in in_scope if p_answer[i] >= at and examples[i].rank != 1)
        if real_total and wrong / real_total > targets.max_answered_wrong:
            break
        answer_at = at
    best: tuple[int, float] = (-1, 0.95)
    for at in grid:
        declined = ruled_out + sum(
            1 for i in out_of_scope if p_offer[i] < at and p_answer[i] < answer_at
        )
        if other_total and declined / other_total < targets.min_declined_out_of_scope:
            continue
        shown = sum(
            1
            for i in in_scope
            if (p_offer[i] >= at or p_answer[i] >= answer_at) and _offered(examples[i], targets)
        )
        if shown > best[0]:
            best = (shown, at)
    return answer_at, best[1]
