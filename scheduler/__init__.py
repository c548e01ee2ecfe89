"""The daemon: APScheduler runs each source's crawl (in a child process) and the digest on schedule."""
