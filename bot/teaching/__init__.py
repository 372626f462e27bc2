"""Staff teach the bot: the questions it missed, and what each one meant.

bot.search.lessons   the lessons themselves, their matching and the reviewed file
bot.storage.teaching_tables  where the running bot keeps them (its own database)
bot.teaching.store   teach / forget / list, and the snapshot every process refreshes
bot.commands.teach  `bot teach`
"""
