"""How sources behave when their upstream fails: circuit breakers and stale fallbacks.

``breaker`` stops calling an upstream that keeps failing, ``stale`` serves the
last good value of slow-changing data meanwhile, and ``aws`` puts the breaker
in front of an aiobotocore client. Nothing here does I/O of its own.
"""
