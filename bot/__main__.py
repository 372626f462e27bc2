"""The `bot` command: parses arguments, loads the config, runs one subcommand.

    bot run                         start every configured channel (web chat always)
    bot chat                        talk to the bot in this terminal
    bot demo                        create the demo dossier database
    bot catalogue check [PATH]      validate a procedure catalogue and the vocabulary
    bot catalogue import SRC [--details NATIONAL] --into DIR
                                    import a national JSONL or provincial XLSX/CSV
    bot eval --catalogue P --questions F  measure how well questions find procedures
    bot broadcast ...               send a notice to subscribers; status/cancel/resume
    bot stats                       what citizens asked and how satisfied they are
    bot teach ...                   say what missed questions meant; list, forget, export
    bot migrate                     bring the bot's database to this version's schema

Each subcommand lives in bot/commands/ (one module each); it is imported inside its
handler below so that `bot --help` stays fast and a command only loads what it needs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.config import Config, ConfigError, load_config

log = logging.getLogger("bot")

Command = Callable[[argparse.Namespace, Config], int]


def _catalogue_check(args: argparse.Namespace, config: Config) -> int:
    from bot.commands.catalogue import run_check
    from bot.stats.records import local_day, utc_now

    return run_check(
        config.catalogue,
        Path(args.path) if args.path else None,
        Path(args.vocabulary) if args.vocabulary else None,
        today=args.today or local_day(utc_now()),
        soon_days=args.soon_days,
        strict=args.strict,
        out=sys.stdout,
    )


def _catalogue_import(args: argparse.Namespace, config: Config) -> int:
    from bot.commands.catalogue import run_import

    details = Path(args.details) if args.details else None
    return run_import(
        Path(args.source), Path(args.into), out=sys.stdout, replace=args.replace, details=details
    )


def _eval(args: argparse.Namespace, config: Config) -> int:
    from bot.commands.eval import run_calibrate, run_eval

    catalogue = Path(args.catalogue) if args.catalogue else config.catalogue.path
    if args.calibrate:
        return run_calibrate(
            config,
            catalogue_path=catalogue,
            question_paths=[Path(q) for q in args.questions],
            into=Path(args.calibrate),
            out=sys.stdout,
        )
    if len(args.questions) != 1:
        print("bot eval: give one --questions file (several only with --calibrate)")
        return 2
    return run_eval(
        config,
        catalogue_path=catalogue,
        questions_path=Path(args.questions[0]),
        as_json=args.json,
        show_failures=args.failures,
        out=sys.stdout,
    )


def _demo(args: argparse.Namespace, config: Config) -> int:
    from bot.commands.demo import run_demo

    return run_demo(config, if_missing=args.if_missing, count=args.count, out=sys.stdout)


def _run(args: argparse.Namespace, config: Config) -> int:
    from bot.commands.run import run_bot

    return run_bot(config)


def _chat(args: argparse.Namespace, config: Config) -> int:
    from bot.commands.chat import run_console_chat

    return run_console_chat(config)


def _broadcast(args: argparse.Namespace, config: Config) -> int:
    from bot.channels.senders import open_senders
    from bot.commands.broadcast import CommandWiring, run_broadcast_command

    return run_broadcast_command(config, args, sys.stdout, CommandWiring(open_senders))


def _stats(args: argparse.Namespace, config: Config) -> int:
    from bot.commands.stats import run_stats

    return run_stats(
        config, days=args.days, chart=Path(args.chart) if args.chart else None, out=sys.stdout
    )


def _teach(args: argparse.Namespace, config: Config) -> int:
    from bot.commands.teach import run_teach
    from bot.core import StartupError, load_matcher

    try:
        _catalogue, matcher = load_matcher(config)
    except StartupError as exc:
        print(f"bot teach: {exc}", file=sys.stderr)
        return 1
    return run_teach(config, matcher, args, out=sys.stdout)


def _migrate(args: argparse.Namespace, config: Config) -> int:
    from bot.commands.migrate import run_migrate

    return run_migrate(config, out=sys.stdout)


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date such as 2027-01-01") from None


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="FILE",
        # SUPPRESS: a subcommand's absent --config must not overwrite `bot --config F ...`.
        default=argparse.SUPPRESS,
        help="config file (default: ./config.toml when it exists, else built-in defaults)",
    )
    parser = argparse.ArgumentParser(
        prog="bot",
        description="Chat assistant of a Public Administrative Service Center.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str, handler: Command) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, parents=[common])
        sub.set_defaults(handler=handler)
        return sub

    add("run", "Start the bot: web chat, plus Telegram and Zalo when configured.", _run)
    add("chat", "Talk to the bot in this terminal (buttons shown as numbers).", _chat)

    demo = add("demo", "Create the demo dossier database and print codes to try.", _demo)
    demo.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing when the demo database already exists",
    )
    demo.add_argument("--count", type=int, default=60, help="number of demo dossiers")

    catalogue = commands.add_parser(
        "catalogue",
        help="Check or import procedure catalogues.",
        description="Check or import procedure catalogues.",
        parents=[common],
    )
    catalogue_commands = catalogue.add_subparsers(
        dest="catalogue_command", metavar="COMMAND", required=True
    )
    check = catalogue_commands.add_parser(
        "check",
        help="Validate a catalogue folder and the vocabulary; exit 1 on errors.",
        description="Validate a catalogue folder and the vocabulary; exit 1 on errors.",
        parents=[common],
    )
    check.add_argument("path", nargs="?", help="catalogue folder (default: from config)")
    check.add_argument(
        "--vocabulary",
        metavar="FILE",
        help="vocabulary file (default: from config, or PATH/_vocabulary.toml)",
    )
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.add_argument(
        "--today",
        type=_iso_date,
        metavar="YYYY-MM-DD",
        help="judge dated entries (valid_from / valid_until) as on this day "
        "(default: today at the center)",
    )
    check.add_argument(
        "--soon-days",
        type=int,
        default=60,
        metavar="N",
        help="warn about entries that end within N days (default 60)",
    )
    check.set_defaults(handler=_catalogue_check)
    importer = catalogue_commands.add_parser(
        "import",
        help="Import a national JSONL or provincial XLSX/CSV export into a folder.",
        description="Import a national JSONL or provincial XLSX/CSV export into a folder.",
        parents=[common],
    )
    importer.add_argument("source", help="file to import (.jsonl, .json, .xlsx or .csv)")
    importer.add_argument("--into", required=True, metavar="DIR", help="catalogue folder")
    importer.add_argument(
        "--details",
        metavar="NATIONAL.jsonl",
        help="complete a province's list with the national portal's export, joined by base "
        "code (documents, time, fees, place, steps, legal basis, page address)",
    )
    importer.add_argument(
        "--replace",
        action="store_true",
        help="allow replacing a folder that holds a catalogue from another source",
    )
    importer.set_defaults(handler=_catalogue_import)

    evaluation = add("eval", "Measure how well citizens' questions find their procedures.", _eval)
    evaluation.add_argument(
        "--catalogue",
        metavar="PATH",
        help="procedures folder, national JSONL or provincial XLSX/CSV",
    )
    evaluation.add_argument(
        "--questions",
        required=True,
        action="append",
        metavar="FILE",
        help="JSONL questions with expected codes (repeat it with --calibrate)",
    )
    evaluation.add_argument(
        "--calibrate",
        metavar="OUT.toml",
        help="fit the confidence model on the questions and write it (e.g. "
        "procedures/_confidence.toml)",
    )
    evaluation.add_argument("--json", action="store_true", help="print one JSON object")
    evaluation.add_argument(
        "--failures", action="store_true", help="list each miss with its top candidates"
    )

    broadcast = add(
        "broadcast", "Send a notice to subscribers, or manage a broadcast job.", _broadcast
    )
    broadcast.add_argument(
        "action",
        nargs="?",
        choices=["send", "status", "cancel", "resume", "list"],
        default="send",
        help="what to do (default: send)",
    )
    broadcast.add_argument("job", nargs="?", help="job id, for status/cancel/resume")
    broadcast.add_argument("--text-file", metavar="F", help="the notice text (UTF-8)")
    broadcast.add_argument("--audience", default="all", help="'all' or a topic from config")
    broadcast.add_argument(
        "--channel",
        action="append",
        choices=["telegram", "zalo"],
        help="only this channel (repeatable; default: every channel)",
    )
    broadcast.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    stats = add("stats", "Show what citizens asked and how satisfied they are.", _stats)
    stats.add_argument("--days", type=int, default=30, help="period, in days (default 30)")
    stats.add_argument("--chart", metavar="FILE.png", help="also draw charts into this PNG")

    teach = add("teach", "Say what the questions the bot missed meant.", _teach)
    teach.add_argument(
        "action",
        choices=["list", "add", "lessons", "forget", "export"],
        help="list: questions to teach; add: teach one; lessons: what was taught; "
        "forget ID: take one back; export: write them to the reviewed file",
    )
    teach.add_argument(
        "question", nargs="?", help="add: the question or #ROW from `list`; forget: lesson id"
    )
    teach.add_argument("--procedure", metavar="CODE", help="add: the procedure it meant")
    teach.add_argument("--event", metavar="ID", help="add: the life event it meant")
    teach.add_argument(
        "--not-ours", action="store_true", help="add: no matter of the center's procedures"
    )
    teach.add_argument("--days", type=int, default=30, help="list: period in days (default 30)")
    teach.add_argument("--into", metavar="FILE", help="export: file (default: _taught.toml)")

    add(
        "migrate",
        "Create the bot's database, or migrate it to this version's schema (back it up first).",
        _migrate,
    )
    return parser


def configure_logging(config: Config) -> None:
    logging.basicConfig(
        level=config.logging.level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Alembic narrates every schema check at INFO ("Context impl SQLiteImpl", ...);
    # bot.storage.schema logs what matters (created, migrated) itself.
    if config.logging.level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config_file = getattr(args, "config", None)
        config = load_config(Path(config_file) if config_file else None)
    except ConfigError as exc:
        print(f"bot: config error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config)
    handler: Command = args.handler
    try:
        return handler(args, config)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `bot ... | head`: the reader left; not an error worth a traceback.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
