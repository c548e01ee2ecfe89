"""A column whose list is filled by script from a JSON endpoint, as many government portals'
newer templates are: the listing page's HTML holds an empty ``<ul>`` and a script that asks
``/common/list.json?column=…`` for the records (``{"code": 200, "data": {"total": n, "list":
[{"title", "url", "publishTime"}…]}}``) and writes one ``<li><a>`` per record. Without running
the script the page links no article. The articles are plain pages from the seeds' real text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from crawler.replica.bulk import SECTION, build_bulk_site
from crawler.replica.markup import SITE_EPOCH
from crawler.replica.resource import Page, make_resource

COLUMN = "/col/col2981/index.html"
ENDPOINT = "/common/list.json"
JSON_UTF8 = "application/json; charset=utf-8"

_LISTING = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>工作动态</title>
</head>
<body>
<div class="crumb">当前位置：<a href="/index.html">首页</a> &gt; 工作动态</div>
<div class="list-box">
  <h2 class="column">工作动态</h2>
  <ul class="list" id="list"></ul>
  <div class="page" id="page"></div>
</div>
<script>
(function () {
  var xhr = new XMLHttpRequest();
  xhr.open("GET", "%(endpoint)s?column=2981&pageNo=1&pageSize=20");
  xhr.onload = function () {
    var res = JSON.parse(xhr.responseText);
    if (res.code !== 200) { return; }
    var ul = document.getElementById("list");
    res.data.list.forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = item.url; a.target = "_blank"; a.textContent = item.title;
      var span = document.createElement("span");
      span.className = "date"; span.textContent = item.publishTime;
      li.appendChild(a); li.appendChild(span); ul.appendChild(li);
    });
    document.getElementById("page").textContent = "共 " + res.data.total + " 条";
  };
  xhr.send();
})();
</script>
</body>
</html>
"""


def build_scripted() -> Mapping[str, Page]:
    """The column page, its JSON endpoint and the articles it lists."""
    site = build_bulk_site(15, seed=2981, page_size=20, repost_every=0)
    articles = {path: page for path, page in site.items() if page.expected is not None}
    records = [{"title": page.expected["title"], "url": path,
                "publishTime": f"{page.expected['published_at']:%Y-%m-%d %H:%M:%S}"}
               for path, page in articles.items() if page.expected is not None]
    data = {"code": 200, "data": {"total": len(records), "list": records}}
    pages: dict[str, Page] = {path: page for path, page in site.items() if not path.startswith(SECTION)}
    pages.update(articles)
    pages[COLUMN] = make_resource((_LISTING % {"endpoint": ENDPOINT}).encode("utf-8"),
                                  "text/html; charset=utf-8", SITE_EPOCH)
    pages[ENDPOINT] = make_resource(json.dumps(data, ensure_ascii=False).encode("utf-8"), JSON_UTF8, SITE_EPOCH)
    return pages


__all__ = ["COLUMN", "ENDPOINT", "build_scripted"]
