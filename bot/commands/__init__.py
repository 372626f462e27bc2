"""The `bot` command's subcommands, one module each; bot/__main__.py parses the arguments
and calls them (each imported only when its command runs, so `bot --help` stays fast).

    run.py        `bot run`        the running bot (bot.app) until SIGINT/SIGTERM
    chat.py       `bot chat`       the core (bot.core) in this terminal
    demo.py       `bot demo`       the demo dossier database
    catalogue.py  `bot catalogue`  check a catalogue folder; import an export into one
    eval.py       `bot eval`       how well questions find their procedures; calibration
    broadcast.py  `bot broadcast`  send a notice; status / cancel / resume / list
    stats.py      `bot stats`      what citizens asked and how satisfied they are
    teach.py      `bot teach`      what missed questions meant
    migrate.py    `bot migrate`    create or migrate the bot's database

Each takes the loaded Config (or the parts it needs) and returns the exit status.
"""
