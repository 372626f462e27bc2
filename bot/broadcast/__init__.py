"""Staff notices to subscribers: subscriptions, the outbox and its delivery engine.

    subscriptions.py  SubscriptionStore: opt in (all / topics), opt out, reachability
    service.py        BroadcastService: prepare / start / progress / cancel / resume /
                      report / list_jobs, staff-only (NotStaff)
    delivery.py       DeliveryWorker: claims outbox rows, sends under each channel's
                      limits, records every outcome; crash bound in its docstring
    limiter.py        RateLimiter (per channel), PerChatSpacing
    notice.py         notice_reply: how a notice looks to citizens
    tables.py         the tables; model.py the typed values and errors

The HTTP endpoint for other systems is bot/channels/broadcast_api.py.
"""
