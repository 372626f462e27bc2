"""Speed of the question matcher against the naive rapidfuzz baseline, in one run.

    .venv/bin/python benchmarks/search.py [--catalogue FILE] [--questions FILE]
                                          [--scale 20000] [--rounds 5]

Prints, for the national catalogue and for a copy scaled up to `--scale` procedures:
index build time, per-query latency p50/p99 and queries per second over the questions
(the first round with cold caches included), the same for the baseline
`process.extract(q, names, scorer=fuzz.WRatio, processor=utils.default_process, limit=5)`
with the ratio between them, the latency of 10,000-character messages, and the process
memory (RSS now and at its peak).

The scaled catalogue clones the real procedures under new codes with varied names (a
case phrase added, a word dropped) so that the index grows the way a real, larger
catalogue would, rather than repeating identical names.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from rapidfuzz import fuzz, process, utils

from bot.catalogue.importers import load_catalogue_source
from bot.catalogue.model import Catalogue
from bot.search.evaluation import read_questions
from bot.search.matcher import Matcher
from bot.search.vocabulary import load_vocabulary

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DEFAULT_CATALOGUE = SHARED / "catalogues" / "dvcqg-7-ministries-2642.jsonl"
DEFAULT_QUESTIONS = SHARED / "eval" / "dev-questions.jsonl"
VOCABULARY = ROOT / "procedures" / "_vocabulary.toml"

# Case phrases of the kind real names carry, to vary cloned names.
_CASES = (
    "đối với hộ gia đình, cá nhân",
    "đối với tổ chức kinh tế",
    "trong trường hợp có thay đổi thông tin",
    "thuộc thẩm quyền của Ủy ban nhân dân cấp huyện",
    "tại khu công nghiệp, khu kinh tế",
    "cho người lao động làm việc ở nước ngoài",
    "đối với doanh nghiệp nhỏ và vừa",
    "trong lĩnh vực nông nghiệp và môi trường",
    "theo cơ chế một cửa liên thông",
    "đối với công trình ngầm",
    "tại cảng hàng không, sân bay",
    "cho cơ sở giáo dục nghề nghiệp",
    "trường hợp bị hư hỏng, rách nát",
    "đối với tàu cá, tàu công vụ thủy sản",
    "khi sáp nhập, chia, tách đơn vị hành chính",
    "ở vùng đồng bào dân tộc thiểu số và miền núi",
)
LONG_MESSAGES = (
    "cho em hỏi làm giấy khai sinh " * 400,
    "a" * 10_000,
    "😀" * 10_000,
    "<p>sổ đỏ</p>" * 1000,
)


def rss_mb() -> float:
    """Resident memory now, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scaled(catalogue: Catalogue, size: int, seed: int = 7) -> Catalogue:
    """The catalogue cloned up to `size` procedures under new codes with varied names."""
    rng = random.Random(seed)
    procedures = list(catalogue.procedures)
    originals = list(catalogue.procedures)
    serial = 0
    while len(procedures) < size:
        source = rng.choice(originals)
        words = source.name.split()
        if len(words) > 4:
            del words[rng.randrange(1, len(words))]
        name = " ".join(words) + " " + rng.choice(_CASES)
        serial += 1
        procedures.append(replace(source, code=f"8.{serial:06d}", name=name))
    return Catalogue(tuple(procedures))


def percentile(values: Sequence[float], percent: float) -> float:
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(percent / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def timed(run: Callable[[str], object], queries: Sequence[str]) -> list[float]:
    latencies: list[float] = []
    for query in queries:
        started = time.perf_counter()
        run(query)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def report(label: str, latencies: Sequence[float]) -> tuple[float, float]:
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    per_second = len(latencies) / (sum(latencies) / 1000)
    print(
        f"  {label:30} p50 {p50:8.3f} ms   p99 {p99:8.3f} ms   "
        f"{per_second:9.0f} queries/s   ({len(latencies)} queries)"
    )
    return p50, p99


def measure(
    label: str, catalogue: Catalogue, questions: Sequence[str], rounds: int, baseline_n: int
) -> None:
    print(f"\n{label}: {len(catalogue)} procedures")
    vocabulary = load_vocabulary(VOCABULARY)
    gc.collect()
    started = time.perf_counter()
    matcher = Matcher.build(catalogue, vocabulary)
    build = time.perf_counter() - started
    print(f"  index build                    {build:8.3f} s")
    ours = timed(matcher.search, list(questions) * rounds)
    p50, p99 = report("matcher (cold + warm rounds)", ours)
    report("matcher, first round (cold)", ours[: len(questions)])
    names = [p.name for p in catalogue.procedures]

    def naive(query: str) -> object:
        return process.extract(
            query, names, scorer=fuzz.WRatio, processor=utils.default_process, limit=5
        )

    base = timed(naive, list(questions)[:baseline_n])
    base_p50, base_p99 = report("baseline WRatio extract", base)
    print(
        f"  speed-up                       p50 x{base_p50 / p50:.0f}   p99 x{base_p99 / p99:.0f}"
        f"   mean x{statistics.fmean(base) / statistics.fmean(ours):.0f}"
    )
    report("10,000-character messages", timed(matcher.search, LONG_MESSAGES * 5))
    gc.collect()
    print(f"  RSS now / peak                 {rss_mb():8.1f} MB / {peak_rss_mb():.1f} MB")
    del matcher


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--catalogue", type=Path, default=DEFAULT_CATALOGUE)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--scale", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5, help="passes over the questions")
    args = parser.parse_args(argv)
    if not args.catalogue.exists() or not args.questions.exists():
        print(f"benchmark data not found ({args.catalogue}, {args.questions})", file=sys.stderr)
        return 2
    print(f"RSS at start                     {rss_mb():8.1f} MB")
    started = time.perf_counter()
    catalogue = load_catalogue_source(args.catalogue)
    print(
        f"catalogue import {time.perf_counter() - started:.2f} s, RSS {rss_mb():.1f} MB "
        f"(peak {peak_rss_mb():.1f} MB, mostly the importer reading the export)"
    )
    questions = [q.text for q in read_questions(args.questions)]
    measure("national catalogue", catalogue, questions, args.rounds, len(questions))
    if args.scale > len(catalogue):
        # The baseline costs ~0.5 s a query at this size: a sample is enough.
        measure(
            f"scaled x{args.scale / len(catalogue):.1f}",
            scaled(catalogue, args.scale),
            questions,
            args.rounds,
            30,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
