"""Scrapy spiders. They only parse: each callback turns a Response into requests or a PageItem."""

# The garbage collector's thresholds a crawl process runs with (set by spiders.runner before a
# crawl, and by ``radar crawl`` before it loads Scrapy). A crawl allocates a few container
# objects per request and response (Scrapy's Requests, Deferreds, dicts), most of them freed by
# reference counting; at Python's default of a collection per 700 net allocations the young
# collections kept re-examining the queued Requests: 1.1 s of a 5,000-page crawl's CPU in about
# a thousand collections, 0.2 s at this threshold (bench/crawl.py site; peak memory unchanged,
# 137 MB). Here, not in spiders.runner: this package's __init__ loads nothing.
CRAWL_GC_THRESHOLD = (50_000, 20, 20)
