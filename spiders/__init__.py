"""Scrapy spiders. They only parse: each callback turns a Response into requests or a PageItem."""
