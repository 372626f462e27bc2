"""Understanding citizens' questions: which procedure they mean and what they ask about.

    matcher = Matcher.build(catalogue, load_vocabulary(path), preferred_levels, max_choices)
    result = matcher.search("lam KT3 mat may ngay")   # pure, never raises
    result.decision, result.intent, result.shown, result.names_procedure

`bot eval` (bot/commands/eval.py, on bot.search.evaluation) measures the quality on a question set.
"""

from bot.search.intent import Intent, detect_intent
from bot.search.matcher import Matcher
from bot.search.result import Candidate, Decision, DeclineReason, SearchResult
from bot.search.vocabulary import (
    Vocabulary,
    VocabularyError,
    check_vocabulary,
    load_vocabulary,
)

__all__ = [
    "Candidate",
    "Decision",
    "DeclineReason",
    "Intent",
    "Matcher",
    "SearchResult",
    "Vocabulary",
    "VocabularyError",
    "check_vocabulary",
    "detect_intent",
    "load_vocabulary",
]
