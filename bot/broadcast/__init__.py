"""Staff notices to subscribers: subscriptions, the outbox and its delivery engine.

    subscriptions.py  SubscriptionStore: opt in (all / topics), opt out, reachability
    service.py        BroadcastService: prepare / start / progress / cancel / resume /
                      report / list_jobs, staff-only (NotStaff)
    delivery.py       DeliveryWorker, the send loop: claims outbox rows, sends under
                      each channel's limits, records every outcome; crash bound in its
                      docstring. Its parts:
      settings.py       DeliverySettings, ChannelLimits (built from config sections)
      claims.py         the claim SQL: claim, renew; ClaimAges (the per-row lease check)
      outcomes.py       what a try's failure means; OutcomeWriter (group commit)
      liveness.py       worker ids, dead local holders of claims, the membership table
      rate_sharing.py   each channel's rate split between the live workers
      running_jobs.py   the jobs a worker serves; closing finished ones
      database_errors.py  the database errors a delivery loop survives
    limiter.py        RateLimiter (per channel), PerChatSpacing
    notice.py         notice_reply: how a notice looks to citizens
    model.py          the typed values and errors (the tables: bot/storage/broadcast_tables.py)

The HTTP endpoint for other systems is bot/channels/broadcast_api.py.
"""
