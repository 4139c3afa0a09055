"""LTS ListLogs (`POST /v2/{project_id}/groups/{g}/streams/{s}/content/query`), driven end to
end through the official `huaweicloudsdklts` 3.1.219 LtsClient (`list_logs(ListLogsRequest(...,
body=QueryLtsLogParams(...)))`, signed by `huaweicloudsdkcore`) against the real logtide binary
started by conftest.py.

Logs are written with the signed `tenant/contents` report (lts_support.post_signed) or, for the
cross-dialect test, with the aliyun SDK's PutLogs; then read back only through ListLogs.

What is checked (lts.md §3.4 and §7):

* the answer: `{"count", "logs": [{"content", "line_num", "labels"}], "isQueryComplete": true}`
  (the raw JSON is checked too, since the SDK would silently drop misspelled keys); a report
  of lines L1..Ln at log_time_ns T with labels is n logs with content Li, the labels sent and
  line_num T + i - 1 as a 19-digit string; `count` is the total number of matches with
  `is_count`, else the number of logs returned;
* the documented example (lts.md §7): 9 lines, keyword `log`, limit 3, anchor "NO 5", the four
  (is_desc, search_type) combinations, highlighting;
* full paging walks in both orders and several page sizes: pages neither skip nor repeat a
  log, and `backwards` from a page's first log gives the previous page;
* label filters (exact match), keywords (whole words, case-insensitive, the delimiter set,
  AND / OR / NOT, `*` and `?` wildcards), highlight on and off, labels never highlighted;
* the time window (inclusive at millisecond precision on both ends), default limit 50;
* logs written through SLS: content `k1=v1 k2=v2` (a lone `content` field is just its value),
  labels = the group's tags plus `__topic__`/`__source__` when set;
* errors, each a ClientRequestException 400 with code, message and request id: LTS.0301,
  LTS.1903, LTS.0701, LTS.0009, LTS.0208, LTS.0201.

Every data set lives in a log stream of its own (conftest `stream`, or a module-scoped stream
for the read-only sets queried by many parametrized cases), so the line numbers of its logs
are exactly their times.
"""

import collections
import re
import time
import uuid

import pytest
from aliyun.log import LogItem, PutLogsRequest
from huaweicloudsdklts.v2 import ListLogsRequest, QueryLtsLogParams

from lts_support import (
    assert_report_ok,
    create_stream,
    assert_request_id,
    assert_sdk_error,
    contents_path,
    describe,
    json_body,
    NS,
    parsed,
    post_signed,
    PROJECT_ID,
    recent_base_ns,
    sdk_error,
    send,
    sign,
)

MS_NS = 10 ** 6
MINUTE_MS = 60 * 1000
DAY_MS = 24 * 3600 * 1000
MAX_WINDOW_MS = 30 * DAY_MS
OPEN, CLOSE = "<HighLightTag>", "</HighLightTag>"
MAX_PAGES = 200  # a walk over ~20 logs that needs more pages than this never ends

Entry = collections.namedtuple("Entry", "content line_num labels")
Result = collections.namedtuple("Result", "count logs")


# ---------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------

def _now_ms():
    return int(time.time() * 1000)


def _hl(word):
    return OPEN + word + CLOSE


def _upload(daemon, stream, base_ns, lines, labels):
    """One signed tenant/contents report: line i (from 0) is logged at base_ns + i."""
    resp = post_signed(daemon, contents_path(stream.group_id, stream.id),
                       json_body({"log_time_ns": base_ns, "contents": list(lines), "labels": labels}))
    assert_report_ok(resp)


def _entries(base_ns, lines, labels, content=lambda line: line):
    """The logs a report becomes: (content(line_i), str(base_ns + i), labels)."""
    return [Entry(content(line), str(base_ns + i), dict(labels)) for i, line in enumerate(lines)]


def _window(*times_ns):
    """(start_ms, end_ms): from a minute before the earliest time to ten minutes after now (the
    module-scoped data sets keep their window for the whole module)."""
    return (min(times_ns) // MS_NS - MINUTE_MS, max(max(times_ns) // MS_NS, _now_ms()) + 10 * MINUTE_MS)


def _check_raw(raw, resp):
    """The raw JSON answer has the documented keys and types (lts.md §3.4)."""
    assert isinstance(raw, dict), raw
    missing = {"count", "logs", "isQueryComplete"} - set(raw)
    assert not missing, "ListLogs answer lacks %r: %r" % (sorted(missing), raw)
    assert raw["isQueryComplete"] is True, raw
    assert isinstance(raw["count"], int) and not isinstance(raw["count"], bool), raw
    assert isinstance(raw["logs"], list), raw
    for item in raw["logs"]:
        assert isinstance(item, dict) and set(item) == {"content", "line_num", "labels"}, item
        assert isinstance(item["content"], str), item
        assert isinstance(item["line_num"], str) and re.fullmatch(r"[0-9]{19}", item["line_num"]), (
            "line_num must be a 19-digit JSON string: %r" % (item,))
        assert isinstance(item["labels"], dict), item
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in item["labels"].items()), item
    assert resp.count == raw["count"], (resp.count, raw["count"])
    assert len(resp.logs or []) == len(raw["logs"]), raw


def _query(client, stream, window, **fields):
    """ListLogs through the SDK (times as strings, as the SDK documents them); Result(count,
    [Entry]) after checking the status and the raw JSON."""
    start_ms, end_ms = window
    body = QueryLtsLogParams(start_time=str(start_ms), end_time=str(end_ms), **fields)
    resp = client.list_logs(ListLogsRequest(log_group_id=stream.group_id, log_stream_id=stream.id, body=body))
    assert resp.status_code == 200, resp
    _check_raw(resp.to_json_object(), resp)
    logs = [Entry(log.content, log.line_num, dict(log.labels or {})) for log in (resp.logs or [])]
    return Result(resp.count, logs)


def _logs(client, stream, window, **fields):
    return _query(client, stream, window, **fields).logs


def _query_error(client, stream, window, **fields):
    """The service error raised by a ListLogs call that must fail."""
    return sdk_error(lambda: _query(client, stream, window, **fields))


# ---------------------------------------------------------------------------------
# The documented example (lts.md §7)
# ---------------------------------------------------------------------------------

SEED_LABELS = {"hostName": "h1"}


def _seed_line(i):
    return "2020-07-25/14:44:4%d this log is Error NO %d" % (i, i)


def _seed_entry(base, i):
    """Log "NO i" of the seed upload as ListLogs shows it for keyword `log` (highlighted)."""
    return Entry(_seed_line(i).replace(" log ", " %s " % _hl("log")), str(base + i - 1), SEED_LABELS)


@pytest.fixture(scope="module")
def seeded(daemon, sls, lts_client, group, group_id):
    """The 9 lines of the documented example, uploaded 4 minutes ago into a stream of their own
    (read-only, shared by the module); (stream, base_ns, window)."""
    stream = create_stream(sls, lts_client, group, group_id, prefix="ls-seed")
    base = recent_base_ns(seconds_ago=240, nanos=239_433_658)
    _upload(daemon, stream, base, [_seed_line(i) for i in range(1, 10)], SEED_LABELS)
    return stream, base, _window(base)


def test_documented_example_first_page_count_and_highlight(lts_client, seeded):
    """keywords "log", limit 3, is_count, no highlight field (default true): count 9 and the
    three oldest logs, ascending, each with `log` wrapped in <HighLightTag>, the labels sent and
    line_num = log_time_ns + i - 1 (19 digits)."""
    stream, base, window = seeded
    result = _query(lts_client, stream, window, keywords="log", limit=3, is_count=True)
    assert result.count == 9, result
    assert result.logs[0].content == "2020-07-25/14:44:41 this <HighLightTag>log</HighLightTag> is Error NO 1"
    assert result.logs == [_seed_entry(base, i) for i in (1, 2, 3)]

    newest = _query(lts_client, stream, window, keywords="log", limit=3, is_count=True, is_desc=True,
                    search_type="init")
    assert newest == Result(9, [_seed_entry(base, i) for i in (9, 8, 7)])


@pytest.mark.parametrize("is_desc, search_type, expected", [
    (False, "forwards", [6, 7, 8]),
    (True, "backwards", [8, 7, 6]),
    (False, "backwards", [2, 3, 4]),
    (True, "forwards", [4, 3, 2]),
    # line_num without search_type is a "next page" (forwards) request
    (False, None, [6, 7, 8]),
    (True, None, [4, 3, 2]),
])
def test_documented_example_pages_from_anchor_no_5(lts_client, seeded, is_desc, search_type, expected):
    """Anchor = the line_num of "NO 5", limit 3, keywords "log": lts.md §7's table; the anchor
    itself is never returned and count (is_count) stays the total, 9."""
    stream, base, window = seeded
    first = _logs(lts_client, stream, window, keywords="log", limit=9)
    assert first == [_seed_entry(base, i) for i in range(1, 10)]
    anchor = first[4]
    assert anchor.content.endswith("NO 5")
    result = _query(lts_client, stream, window, keywords="log", limit=3, is_count=True, is_desc=is_desc,
                    search_type=search_type, line_num=anchor.line_num)
    assert result == Result(9, [_seed_entry(base, i) for i in expected]), (
        "is_desc=%s search_type=%s from NO 5: got %r" % (is_desc, search_type, [e.content for e in result.logs]))


@pytest.mark.parametrize("anchor_no, is_desc, search_type, expected", [
    (8, False, "forwards", [9]),
    (2, False, "backwards", [1]),
    (8, True, "backwards", [9]),
    (2, True, "forwards", [1]),
    (9, False, "forwards", []),
    (1, False, "backwards", []),
    (9, True, "backwards", []),
    (1, True, "forwards", []),
])
def test_documented_example_pages_near_the_ends(lts_client, seeded, anchor_no, is_desc, search_type, expected):
    """Fewer than `limit` logs on the asked side: those that remain, none past the end."""
    stream, base, window = seeded
    anchor = str(base + anchor_no - 1)
    result = _query(lts_client, stream, window, keywords="log", limit=3, is_desc=is_desc,
                    search_type=search_type, line_num=anchor)
    assert result.logs == [_seed_entry(base, i) for i in expected], [e.content for e in result.logs]
    assert result.count == len(expected), result


# ---------------------------------------------------------------------------------
# Paging walks
# ---------------------------------------------------------------------------------

WALK_BATCHES = [  # (seconds after the walk's base, labels, number of lines)
    (0, {"batch": "a", "hostName": "h-a"}, 7),
    (1, {"batch": "b"}, 7),
    (2, {"batch": "c", "zone": "z"}, 6),
]


@pytest.fixture(scope="module")
def walk_logs(daemon, sls, lts_client, group, group_id):
    """20 logs in three reports (sent newest batch first, so arrival order is not time
    order) into a read-only stream of their own; (stream, window, all logs ascending)."""
    stream = create_stream(sls, lts_client, group, group_id, prefix="ls-walk")
    base = recent_base_ns(seconds_ago=300, nanos=999_999_990)
    expected = []
    for offset, labels, n in WALK_BATCHES:
        batch_base = base + offset * NS
        lines = ["walk %s line %02d" % (labels["batch"], i) for i in range(n)]
        expected.extend(_entries(batch_base, lines, labels))
    for offset, labels, n in reversed(WALK_BATCHES):
        lines = ["walk %s line %02d" % (labels["batch"], i) for i in range(n)]
        _upload(daemon, stream, base + offset * NS, lines, labels)
    return stream, _window(base), expected


def _walk(client, stream, window, limit, desc):
    """Pages from `init` on, each next one `forwards` from the last log of the previous, until
    an empty page; every page must report the total count (is_count)."""
    total = None
    pages = []
    result = _query(client, stream, window, limit=limit, is_desc=desc, search_type="init", is_count=True)
    for _ in range(MAX_PAGES):
        if total is None:
            total = result.count
        assert result.count == total, "count changed while paging: %r then %r" % (total, result.count)
        if not result.logs:
            return pages, total
        pages.append(result.logs)
        result = _query(client, stream, window, limit=limit, is_desc=desc, search_type="forwards",
                        line_num=result.logs[-1].line_num, is_count=True)
    pytest.fail("paging with limit %d never reached an empty page" % limit)


@pytest.mark.parametrize("desc", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("limit", [1, 2, 4])
def test_paging_walk_covers_every_log_once_in_order(lts_client, walk_logs, limit, desc):
    """Following `forwards` pages yields every log exactly once, in the asked order, in pages
    of exactly `limit` (the last one possibly shorter); `backwards` from the first log of each
    page returns the previous page, and from the very first log nothing."""
    stream, window, ascending = walk_logs
    expected = list(reversed(ascending)) if desc else ascending
    pages, total = _walk(lts_client, stream, window, limit, desc)
    assert total == len(expected)
    got = [e for page in pages for e in page]
    assert got == expected, "walk limit=%d desc=%s gave %r" % (limit, desc, [e.content for e in got])
    assert pages == [expected[i:i + limit] for i in range(0, len(expected), limit)]

    for previous, page in zip(pages, pages[1:]):
        back = _logs(lts_client, stream, window, limit=limit, is_desc=desc, search_type="backwards",
                     line_num=page[0].line_num)
        assert back == previous, "backwards from %r: %r" % (page[0].content, [e.content for e in back])
    assert _logs(lts_client, stream, window, limit=limit, is_desc=desc, search_type="backwards",
                 line_num=pages[0][0].line_num) == []


def test_logs_sharing_a_time_get_distinct_line_numbers_and_page_once(daemon, lts_client, stream):
    """Two reports with the same log_time_ns: 6 logs with 6 distinct, increasing 19-digit
    line_nums; a limit-1 walk in either order returns each exactly once (lts.md §7: line_num
    is unique per event)."""
    base = recent_base_ns(seconds_ago=200, nanos=5)
    _upload(daemon, stream, base, ["dup a0", "dup a1", "dup a2"], {"r": "a"})
    _upload(daemon, stream, base, ["dup b0", "dup b1", "dup b2"], {"r": "b"})
    window = _window(base)
    logs = _logs(lts_client, stream, window)
    assert sorted(e.content for e in logs) == ["dup a0", "dup a1", "dup a2", "dup b0", "dup b1", "dup b2"]
    nums = [int(e.line_num) for e in logs]
    assert nums == sorted(set(nums)), "line_nums must be distinct and ascending: %r" % nums
    assert nums[0] >= base, nums
    for e in logs:
        assert e.labels == {"r": e.content[4]}, e
    for prefix in ("dup a", "dup b"):
        assert [e.content for e in logs if e.content.startswith(prefix)] == [prefix + d for d in "012"]
    for desc in (False, True):
        pages, total = _walk(lts_client, stream, window, 1, desc)
        assert total == 6
        assert [p for page in pages for p in page] == (logs[::-1] if desc else logs)


# ---------------------------------------------------------------------------------
# Label filters, keywords, highlighting
# ---------------------------------------------------------------------------------

WEB1 = {"hostName": "web-1", "app": "shop"}
WEB2 = {"hostName": "web-2", "app": "shop"}
WEB3 = {"hostName": "web-3", "level": "error", "note": "Error log"}
WEB1_LINES = [
    "GET /api/items status=200 user=alice",
    "POST /api/orders status=500 user=bob",
    "ERROR disk full on /dev/sda1",
    "Timeout while connecting to db",
]
WEB2_LINES = [
    "GET /api/items status=404 user=carol",
    "error: retrying request",
    "errors are not error-free",
    "timed out after 30s",
]
WEB3_LINES = ["fatal error in worker"]


@pytest.fixture(scope="module")
def shop(daemon, sls, lts_client, group, group_id):
    """Three reports with different labels into a read-only stream of their own; (stream,
    window, {name: Entry without highlight})."""
    stream = create_stream(sls, lts_client, group, group_id, prefix="ls-shop")
    base = recent_base_ns(seconds_ago=180, nanos=100)
    logs = {}
    for offset, prefix, labels, lines in [(0, "L", WEB1, WEB1_LINES), (NS, "M", WEB2, WEB2_LINES),
                                          (2 * NS, "N", WEB3, WEB3_LINES)]:
        _upload(daemon, stream, base + offset, lines, labels)
        for i, entry in enumerate(_entries(base + offset, lines, labels)):
            logs["%s%d" % (prefix, i)] = entry
    return stream, _window(base), logs


ALL_SHOP = ["L0", "L1", "L2", "L3", "M0", "M1", "M2", "M3", "N0"]


def _marked(entry, *words):
    """entry with each listed word (exactly as written in the content) highlighted."""
    content = entry.content
    for word in words:
        content = re.sub(r"(?<![^\s,'\";=()\[\]{}?@&<>/:])%s(?![^\s,'\";=()\[\]{}?@&<>/:])" % re.escape(word),
                         _hl(word), content)
    return entry._replace(content=content)


@pytest.mark.parametrize("labels, names", [
    ({"hostName": "web-1"}, ["L0", "L1", "L2", "L3"]),
    ({"hostName": "web-2", "app": "shop"}, ["M0", "M1", "M2", "M3"]),
    ({"app": "shop"}, ["L0", "L1", "L2", "L3", "M0", "M1", "M2", "M3"]),
    ({"level": "error"}, ["N0"]),
    ({}, ALL_SHOP),
    ({"hostName": "web"}, []),
    ({"hostName": "WEB-1"}, []),
    ({"hostName": "web-1", "app": "other"}, []),
    ({"hostName": "web-1", "level": "error"}, []),
    ({"nope": "x"}, []),
], ids=["one-label", "two-labels", "shared-label", "only-web3", "empty-map", "prefix-is-no-match",
        "case-matters", "one-of-two-wrong", "labels-of-two-reports", "unknown-key"])
def test_label_filter_is_an_exact_match_of_every_label(lts_client, shop, labels, names):
    """`labels` keeps the logs whose labels contain every given key with exactly that value."""
    stream, window, logs = shop
    result = _query(lts_client, stream, window, labels=labels, is_count=True)
    assert result == Result(len(names), [logs[n] for n in names]), [e.content for e in result.logs]


# keywords -> [(log, words highlighted in it)]
KEYWORD_CASES = [
    # whole words, case-insensitive; "errors" and "error-free" are other words
    ("error", [("L2", ["ERROR"]), ("M1", ["error"]), ("N0", ["error"])]),
    ("ERROR", [("L2", ["ERROR"]), ("M1", ["error"]), ("N0", ["error"])]),
    ("eRrOr", [("L2", ["ERROR"]), ("M1", ["error"]), ("N0", ["error"])]),
    ("error-free", [("M2", ["error-free"])]),
    ("erro", []),
    # delimiters split words: '/', '=', ':'
    ("api", [("L0", ["api"]), ("L1", ["api"]), ("M0", ["api"])]),
    ("500", [("L1", ["500"])]),
    ("sda1", [("L2", ["sda1"])]),
    ("status=200", [("L0", ["status", "200"])]),
    # several words: all must match
    ("get alice", [("L0", ["GET", "alice"])]),
    ("get AND alice", [("L0", ["GET", "alice"])]),
    ("disk full", [("L2", ["disk", "full"])]),
    ("get bob", []),
    # OR alternatives
    ("alice OR carol", [("L0", ["alice"]), ("M0", ["carol"])]),
    ("bob OR worker OR nothing", [("L1", ["bob"]), ("N0", ["worker"])]),
    # NOT excludes
    ("get NOT alice", [("M0", ["GET"])]),
    ("status NOT 200 NOT 404", [("L1", ["status"])]),
    ("error NOT fatal", [("L2", ["ERROR"]), ("M1", ["error"])]),
    # wildcards: '*' any run, '?' one character, anywhere but first; whole words still
    ("err*", [("L2", ["ERROR"]), ("M1", ["error"]), ("M2", ["errors", "error-free"]), ("N0", ["error"])]),
    ("tim?out", [("L3", ["Timeout"])]),
    ("time*", [("L3", ["Timeout"]), ("M3", ["timed"])]),
    ("e?ror", [("L2", ["ERROR"]), ("M1", ["error"]), ("N0", ["error"])]),
    ("s*a1", [("L2", ["sda1"])]),
    ("nomatch", []),
]


@pytest.mark.parametrize("keywords, expected", KEYWORD_CASES, ids=[c[0] for c in KEYWORD_CASES])
def test_keywords_select_and_highlight_whole_words(lts_client, shop, keywords, expected):
    """Keywords (lts.md §3.4, §7): the matching logs in ascending order, with every matching
    word wrapped in <HighLightTag> exactly as written in the content (highlight defaults to
    true); labels are never wrapped (web-3's labels hold the word `error`)."""
    stream, window, logs = shop
    result = _query(lts_client, stream, window, keywords=keywords, is_count=True)
    want = [_marked(logs[name], *words) for name, words in expected]
    assert result == Result(len(want), want), "keywords %r: %r" % (keywords, result)


@pytest.mark.parametrize("keywords, names", [
    ("error", ["L2", "M1", "N0"]),
    ("err*", ["L2", "M1", "M2", "N0"]),
    ("alice OR carol", ["L0", "M0"]),
])
def test_highlight_false_returns_raw_content(lts_client, shop, keywords, names):
    """highlight=false: the same logs, content exactly as uploaded."""
    stream, window, logs = shop
    result = _query(lts_client, stream, window, keywords=keywords, highlight=False)
    assert result.logs == [logs[n] for n in names]
    assert not any(OPEN in e.content or CLOSE in e.content for e in result.logs)


def test_highlight_true_without_keywords_leaves_content_raw(lts_client, shop):
    """highlight=true but no keywords: nothing is wrapped."""
    stream, window, logs = shop
    assert _logs(lts_client, stream, window, highlight=True) == [logs[n] for n in ALL_SHOP]


def test_labels_and_keywords_combine(lts_client, shop):
    """labels and keywords must both hold."""
    stream, window, logs = shop
    assert _logs(lts_client, stream, window, labels={"hostName": "web-2"}, keywords="get") == [
        _marked(logs["M0"], "GET")]
    assert _logs(lts_client, stream, window, labels={"hostName": "web-1"}, keywords="error") == [
        _marked(logs["L2"], "ERROR")]
    assert _logs(lts_client, stream, window, labels={"hostName": "web-1"}, keywords="carol") == []


DELIMITERS = [" ", "\t", "\n", ",", "'", '"', ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<",
              ">", "/", ":"]
NOT_DELIMITERS = ["-", ".", "_", "+", "|", "!", "#", "$", "%", "*", "~"]


def test_keyword_delimiter_set(daemon, lts_client, stream):
    """Each documented delimiter separates words (so `needle` is found and highlighted between
    two of them); other punctuation does not (`x-needle` is one word)."""
    base = recent_base_ns(seconds_ago=150, nanos=0)
    split = ["pre%02d%sneedle%spost" % (i, d, d) for i, d in enumerate(DELIMITERS)]
    joined = ["pre%02d%sneedle" % (i, d) for i, d in enumerate(NOT_DELIMITERS)]
    labels = {"set": "delimiters"}
    _upload(daemon, stream, base, split + joined, labels)
    window = _window(base)

    got = _logs(lts_client, stream, window, keywords="needle", limit=100)
    want = _entries(base, split, labels, content=lambda line: line.replace("needle", _hl("needle")))
    missing = [repr(DELIMITERS[i]) for i, e in enumerate(want) if e not in got]
    extra = [e.content for e in got if e not in want]
    assert not missing and not extra, "not split on %s; wrongly split: %r" % (missing, extra)
    assert got == want

    assert len(_logs(lts_client, stream, window, limit=100)) == len(split) + len(joined)


# ---------------------------------------------------------------------------------
# Logs written through SLS
# ---------------------------------------------------------------------------------

def test_sls_written_logs_are_queryable_with_rendered_content_and_labels(sls, lts_client, stream):
    """PutLogs through the aliyun SDK: content is `k1=v1 k2=v2` in field order (a single field
    named `content` is just its value), labels are the LogGroup's tags plus `__topic__` and
    `__source__` when non-empty, line_num is the log's time in ns; the rendered content is what
    keywords search and highlight, and `__topic__`/`__source__` filter like any label."""
    seconds = time.time_ns() // NS - 120
    first = [
        (100, [("method", "GET"), ("status", "200"), ("path", "/api/items")], "method=GET status=200 path=/api/items"),
        (200, [("content", "plain text line")], "plain text line"),
        (300, [("content", "a"), ("extra", "b")], "content=a extra=b"),
    ]
    sls.put_logs(PutLogsRequest(
        stream.group_name, stream.name, "orders", "10.0.0.7",
        [LogItem(timestamp=seconds, contents=contents, time_nano_part=nanos) for nanos, contents, _ in first],
        logtags=[("env", "prod"), ("zone", "z1")]))
    sls.put_logs(PutLogsRequest(
        stream.group_name, stream.name, "", "10.0.0.8",
        [LogItem(timestamp=seconds, contents=[("msg", "hello world")], time_nano_part=400)]))

    labels1 = {"env": "prod", "zone": "z1", "__topic__": "orders", "__source__": "10.0.0.7"}
    labels2 = {"__source__": "10.0.0.8"}
    want = [Entry(text, str(seconds * NS + nanos), labels1) for nanos, _, text in first]
    want.append(Entry("msg=hello world", str(seconds * NS + 400), labels2))
    window = _window(seconds * NS)

    assert _query(lts_client, stream, window, is_count=True) == Result(4, want)
    assert _logs(lts_client, stream, window, keywords="status 200") == [
        want[0]._replace(content="method=GET %s=%s path=/api/items" % (_hl("status"), _hl("200")))]
    assert _logs(lts_client, stream, window, keywords="plain") == [
        want[1]._replace(content="%s text line" % _hl("plain"))]
    assert _logs(lts_client, stream, window, keywords="hello", highlight=False) == [want[3]]
    assert _logs(lts_client, stream, window, labels={"__topic__": "orders"}) == want[:3]
    assert _logs(lts_client, stream, window, labels={"__source__": "10.0.0.8"}) == want[3:]
    assert _logs(lts_client, stream, window, labels={"env": "prod", "__source__": "10.0.0.8"}) == []


# ---------------------------------------------------------------------------------
# Time window, count, limit
# ---------------------------------------------------------------------------------

def test_window_excludes_logs_outside_it_and_count_without_is_count(daemon, lts_client, stream):
    """A log uploaded an hour ago is not in a window around now (and vice versa); without
    is_count, count is the number of logs returned, with it the number of matches."""
    old = recent_base_ns(seconds_ago=3600, nanos=11)
    new = recent_base_ns(seconds_ago=60, nanos=22)
    _upload(daemon, stream, old, ["old event one"], {"age": "old"})
    _upload(daemon, stream, new, ["new event one", "new event two"], {"age": "new"})
    old_logs = _entries(old, ["old event one"], {"age": "old"})
    new_logs = _entries(new, ["new event one", "new event two"], {"age": "new"})
    now = _now_ms()

    around_now = (now - 10 * MINUTE_MS, now + MINUTE_MS)
    assert _query(lts_client, stream, around_now, is_count=True) == Result(2, new_logs)
    assert _query(lts_client, stream, around_now, is_count=False) == Result(2, new_logs)
    assert _query(lts_client, stream, around_now) == Result(2, new_logs)
    assert _query(lts_client, stream, around_now, limit=1) == Result(1, new_logs[:1])
    assert _query(lts_client, stream, around_now, limit=1, is_count=True) == Result(2, new_logs[:1])
    assert _query(lts_client, stream, around_now, keywords="old") == Result(0, [])

    around_old = (old // MS_NS - MINUTE_MS, old // MS_NS + MINUTE_MS)
    assert _query(lts_client, stream, around_old, is_count=True) == Result(1, old_logs)
    both = (old // MS_NS - MINUTE_MS, now + MINUTE_MS)
    assert _query(lts_client, stream, both, is_count=True) == Result(3, old_logs + new_logs)
    assert _query(lts_client, stream, both, is_desc=True, limit=2, is_count=False) == Result(
        2, new_logs[::-1])


def test_window_is_inclusive_at_millisecond_precision(daemon, lts_client, stream):
    """lts.md §3.4: the interval is inclusive on both ends (in ms): a log at ms M + 500 ns is in
    [M, M+1000] and [M-1000, M], and not in [M+1, M+1000] or [M-1000, M-1]."""
    base = recent_base_ns(seconds_ago=90, nanos=123_000_500)
    _upload(daemon, stream, base, ["edge"], {"k": "v"})
    entry = _entries(base, ["edge"], {"k": "v"})
    m = base // MS_NS
    assert _logs(lts_client, stream, (m, m + 1000)) == entry
    assert _logs(lts_client, stream, (m - 1000, m)) == entry
    assert _logs(lts_client, stream, (m + 1, m + 1000)) == []
    assert _logs(lts_client, stream, (m - 1000, m - 1)) == []


def test_default_limit_is_50(daemon, lts_client, stream):
    """Without `limit` a page holds 50 logs (the oldest, ascending); count is the total with
    is_count; limit 5000 is accepted."""
    base = recent_base_ns(seconds_ago=100, nanos=0)
    lines = ["bulk %03d" % i for i in range(55)]
    _upload(daemon, stream, base, lines, {})
    all_logs = _entries(base, lines, {})
    window = _window(base)
    assert _query(lts_client, stream, window, is_count=True) == Result(55, all_logs[:50])
    assert _query(lts_client, stream, window) == Result(50, all_logs[:50])
    assert _query(lts_client, stream, window, limit=5000) == Result(55, all_logs)
    assert _query(lts_client, stream, window, is_desc=True, is_count=True) == Result(55, all_logs[::-1][:50])


def test_raw_lenient_body_and_request_id(daemon, stream):
    """The documents' own body style (numbers for times, "limit": "2" and "is_desc": "true" as
    strings, lts.md §3.4 / §8.3) is accepted; the answer is JSON with camelCase isQueryComplete
    and carries X-Request-Id."""
    base = recent_base_ns(seconds_ago=80, nanos=7)
    _upload(daemon, stream, base, ["raw one", "raw two", "raw three"], {"via": "raw"})
    start_ms, end_ms = _window(base)
    path = "/v2/%s/groups/%s/streams/%s/content/query" % (PROJECT_ID, stream.group_id, stream.id)
    body = json_body({"start_time": start_ms, "end_time": end_ms, "limit": "2", "is_desc": "true",
                      "is_count": True, "keywords": "raw", "highlight": False})
    resp = send(daemon, sign(daemon, "POST", path, body))
    assert resp.status == 200, describe(resp)
    assert_request_id(resp)
    assert parsed(resp) == {
        "count": 3,
        "logs": [{"content": "raw three", "line_num": str(base + 2), "labels": {"via": "raw"}},
                 {"content": "raw two", "line_num": str(base + 1), "labels": {"via": "raw"}}],
        "isQueryComplete": True,
    }, describe(resp)


# ---------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("keywords", ["*rror", "?rror", "level *rror", "ok OR ?x", "ok NOT *x"])
def test_wildcard_first_is_lts_0301(lts_client, error_stream, keywords):
    """'*' or '?' as the first character of any keyword: 400 LTS.0301."""
    err = _query_error(lts_client, error_stream, _window(time.time_ns()), keywords=keywords)
    assert_sdk_error(err, 400, "LTS.0301")


@pytest.mark.parametrize("limit", [0, 5001, -1])
def test_limit_out_of_range_is_lts_1903(lts_client, error_stream, limit):
    """limit outside 1..5000: 400 LTS.1903 (1 and 5000 are accepted)."""
    window = _window(time.time_ns())
    assert_sdk_error(_query_error(lts_client, error_stream, window, limit=limit), 400, "LTS.1903")
    for ok in (1, 5000):
        assert _query(lts_client, error_stream, window, limit=ok).count == 0


def test_line_num_outside_window_is_lts_0701(daemon, lts_client, stream):
    """line_num before start_time or after end_time: 400 LTS.0701, also for the line_num of a
    real log that lies outside the window."""
    old = recent_base_ns(seconds_ago=3600, nanos=1)
    _upload(daemon, stream, old, ["an old log"], {})
    old_line = _logs(lts_client, stream, _window(old))[0].line_num
    assert old_line == str(old)
    now = _now_ms()
    start_ms, end_ms = now - 10 * MINUTE_MS, now + MINUTE_MS
    for line_num in (str(start_ms * MS_NS - 1), str((end_ms + 1) * MS_NS), old_line):
        for search_type in ("forwards", "backwards"):
            err = _query_error(lts_client, stream, (start_ms, end_ms), line_num=line_num, search_type=search_type)
            assert_sdk_error(err, 400, "LTS.0701")


@pytest.mark.parametrize("span_ms", [MAX_WINDOW_MS + 1, 0, -1, -MINUTE_MS],
                         ids=["over-30-days", "start-equals-end", "start-after-end", "start-a-minute-after-end"])
def test_bad_window_is_lts_0009(lts_client, error_stream, span_ms):
    """A window longer than 30 days, or start_time >= end_time: 400 LTS.0009 (exactly 30 days
    is accepted)."""
    end = _now_ms()
    err = _query_error(lts_client, error_stream, (end - span_ms, end))
    assert_sdk_error(err, 400, "LTS.0009")
    assert _query(lts_client, error_stream, (end - MAX_WINDOW_MS, end)) == Result(0, [])


def test_unknown_stream_is_lts_0208_and_unknown_group_lts_0201(lts_client, error_stream):
    """An unknown log stream id in a known group: 400 LTS.0208; an unknown log group id (with a
    known or an unknown stream id): 400 LTS.0201."""
    window = _window(time.time_ns())
    unknown_stream = error_stream._replace(id=str(uuid.uuid4()))
    assert_sdk_error(_query_error(lts_client, unknown_stream, window), 400, "LTS.0208")
    unknown_group = error_stream._replace(group_id=str(uuid.uuid4()))
    assert_sdk_error(_query_error(lts_client, unknown_group, window), 400, "LTS.0201")
    both = error_stream._replace(group_id=str(uuid.uuid4()), id=str(uuid.uuid4()))
    assert_sdk_error(_query_error(lts_client, both, window), 400, "LTS.0201")
    assert _query(lts_client, error_stream, window) == Result(0, [])
