"""Scrapy settings for Policy Radar crawls: polite by default.

A user may override any of these per config file under ``settings: scrapy:`` (the demo does,
to lift the delays for its loopback replica).
"""

from crawler.config.settings import Settings, crawl_knobs

BOT_NAME = "policy-radar"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

ROBOTSTXT_OBEY = True
USER_AGENT = "PolicyRadar/0.1 (research crawler)"

# Politeness: government sites are small and slow; one or two requests at a time per host.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# Items of one response processed at once. Every Policy Radar callback yields at most one item
# (an article page: its page; a listing page: only requests), so more buys nothing, while Scrapy
# (2.19) starts that many asyncio tasks for every response: Scrapy's default of 100 cost more
# than parsing a page, and at 8 (our earlier value) a crawl spent about a tenth more CPU per page
# in the crawl process and made about a fifth fewer pages/s (bench/crawl.py). Pages are still
# processed in parallel across responses.
CONCURRENT_ITEMS = 1

RETRY_ENABLED = True
RETRY_TIMES = 3
# One attempt, connect to last byte (Scrapy's timeout is total, not idle); a timed-out attempt is
# retried, so the deadline (the download_deadline setting) bounds one response over all its
# attempts and redirects (spiders.deadline): a server trickling its answer holds a URL that long.
DOWNLOAD_TIMEOUT = 60
# Only http and https are downloaded at all: no handler reads local files (file://), data: URLs,
# S3 or FTP, whatever a page links to. spiders.guard refuses them first, and off-site hosts too.
DOWNLOAD_HANDLERS = {
    "http": "spiders.deadline.DeadlineHTTPDownloadHandler",
    "https": "spiders.deadline.DeadlineHTTPDownloadHandler",
    "file": None,
    "data": None,
    "s3": None,
    "ftp": None,
}
# First of the downloader middlewares (Scrapy's own start at 50): a refused request reaches
# neither the robots.txt check, which would fetch from the refused host, nor the download. Nor is
# it counted as a download error: Scrapy's downloader stats are replaced by ones that skip it.
DOWNLOADER_MIDDLEWARES = {
    "spiders.guard.FetchGuard": 10,
    "scrapy.downloadermiddlewares.stats.DownloaderStats": None,
    "spiders.guard.DownloaderStats": 850,
}
# Article pages are small; attachments get their own cap (the attachment_maxsize setting).
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
# The crawl knobs (RADAR_WORKERS, RADAR_STORE_BATCH …) are settings of the one catalogue,
# crawler.config.settings, settable from the config file or the environment; here their defaults,
# for `scrapy crawl` (spiders.runner sets the configured values).
globals().update(crawl_knobs(Settings()))

COOKIES_ENABLED = False
# No way into a running crawl from outside: Scrapy's telnet console, and the remote-control HTTP
# server Scrapy 2.19 starts by default (it runs posted Python code, writes a token file under the
# user's home, and importing its aiohttp costs a re-crawl a sixth of its start-up).
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"

# Nearest the spiders (Scrapy's own end at 900): the callbacks only parse; which links are stored
# already, and the validators a request sends, are spiders.known's.
SPIDER_MIDDLEWARES = {
    "spiders.known.KnownPages": 950,
}
ITEM_PIPELINES = {
    "spiders.pipelines.ExtractPipeline": 100,
    "spiders.pipelines.StorePipeline": 200,
}
EXTENSIONS = {
    "spiders.extensions.CrawlRunRecorder": 100,
}

# Rendering sources (render: browser | auto; spiders.render, spiders.browser): the OS's Chromium,
# a new browser context every RADAR_BROWSER_RECYCLE pages, and how long a page may take to go
# quiet (a challenge's reload, a list filled by script) before it is read.
RADAR_BROWSER_EXECUTABLE = "/usr/bin/chromium"
RADAR_BROWSER_RECYCLE = 200
RADAR_BROWSER_SETTLE = 10.0
