"""Dossier status by receipt code, from the center's one-stop system, with change notices.

receipt_codes   recognise and normalise receipt codes in free text
model           Dossier, HistoryEntry, DossierChange, the standard DossierStatus 1..10
contract        the column contract of configured queries and API field maps
source          the DossierSource protocol, SourceUnavailable, GuardedSource
sql_source      SqlDossierSource (any SQLAlchemy async URL, configured queries)
http_source     HttpDossierSource (a JSON API through aiohttp)
bundled         the default schema and queries (what `bot demo` fills)
working_days    working-day calendar for overdue counts
view            DossierView: what a verified citizen sees (name masked)
access          verification, limits, lockouts, grants, audit (bot's database)
tables          this feature's tables in the bot's database
service         DossierService: the API the dialogue calls
watcher         DossierWatcher: once-only change notices to subscribers
push            signed pushes from the one-stop system
demo            realistic demo dossiers (`bot demo`, bot/commands/demo.py, writes them)
"""
