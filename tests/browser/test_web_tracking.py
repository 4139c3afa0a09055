"""SLS web tracking from a real browser (sls.md §7): the npm package
@aliyun-sls/web-track-browser, bundled by esbuild into page/index.html and run in headless
Debian Chromium (playwright-core), posts to the logtide daemon from another origin; the
official Python SDK then pulls every shard back and the logs are checked exactly.

Covered:
* the SDK's four send methods (send, sendImmediate, sendBatchLogs, sendBatchLogsImmediate)
  and its three flush rules (count=2, time=1 s, immediate), i.e. exactly 7 POSTs, each to
  `{host}/logstores/{ls}/track?APIVersion=0.6.0` with no project anywhere;
* both transports: navigator.sendBeacon (resource type "ping") and, for a payload of
  >= 32768 chars, XMLHttpRequest; both text/plain;charset=UTF-8, cross-origin, no
  preflight, answered 200 with `Access-Control-Allow-Origin: *`;
* the SDK's stringification of numbers, booleans, null, undefined, arrays and objects,
  non-ASCII keys and values, escapes, an empty value; topic, source and tags;
* the daemon: auto-creation of project `webproj` (default_project) and of the logstore with
  web tracking on; one LogGroup per POST with exactly the sent logs (in order), topic,
  source and tags; the log time is the receive time (within the test's wall-clock window);
* a logstore created with enable_tracking=false: the browser's POSTs (beacon and XHR) are
  refused with 401 Unauthorized (CORS-readable) and nothing is stored, while a control POST
  right after them to an enabled logstore is stored.

Pulled contents are compared per log as ordered (key, value) lists: the daemon keeps a
web-tracking log's keys, and the tags, in the order of the JSON body, as PutLogs keeps the order
of a LogGroup. The body the browser sent is checked in its exact order, and the order of the logs
within each LogGroup is checked too.
"""

import json
import math
import time
import uuid

import pytest
from aliyun.log import LogException

from conftest import PROJECT

TOPIC = "browser-topic"
SOURCE = "browser-src"
TAGS = {"env": "browser-test", "page": "首页 ✓"}
BIG = "x" * 40000

# What page/entry.js's "main" scenario must put on the wire: one list per POST, in the order
# the tracker flushes them; each log as the SDK stringifies it (String(v), JSON.stringify for
# objects, arrays and null), keys in insertion order.
MAIN_BATCHES = [
    [  # send + send, flushed by count=2
        {"step": "send-count-1", "text": "hello", "price": "7998"},
        {"step": "send-count-2", "float": "0.30000000000000004", "neg": "-42", "big": "1e+21", "zero": "0"},
    ],
    [  # sendImmediate
        {"step": "send-immediate", "zh": "中文日志", "emoji": "🚀✓", "accent": "café",
         "obj": '{"a":1,"b":[1,"x",null],"c":{"d":"中"}}'},
    ],
    [  # send, flushed by the 1 s timer
        {"step": "send-timer", "yes": "true", "no": "false", "nothing": "null", "list": "[1,2,3]", "empty": ""},
    ],
    [  # sendBatchLogs of 3 >= count
        {"step": "batch-1", "i": "1"},
        {"step": "batch-2", "i": "2"},
        {"step": "batch-3", "i": "3", "quote": 'say "hi"\n\ttab\\ <b>&amp;</b>'},
    ],
    [  # sendBatchLogsImmediate
        {"step": "batch-immediate-1", "undef": "undefined"},
        {"step": "batch-immediate-2", "ключ": "значение", "键": "值"},
    ],
    [  # sendBatchLogs of 1, flushed by the timer
        {"step": "batch-timer", "at": "timer"},
    ],
    [  # sendImmediate of a >= 32768-char payload: XMLHttpRequest instead of sendBeacon
        {"step": "xhr-large", "big": BIG, "tail": "尾"},
    ],
]
MAIN_TRANSPORTS = ["ping"] * 6 + ["xhr"]


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def track_url(daemon, logstore):
    return "%s/logstores/%s/track?APIVersion=0.6.0" % (daemon.host, logstore)


def text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


def pull_everything(client, logstore):
    """Every LogGroup of every shard, from the beginning, as plain dicts."""
    groups = []
    for shard in client.list_shards(PROJECT, logstore).get_shards_info():
        shard_id = shard["shardID"]
        cursor = client.get_cursor(PROJECT, logstore, shard_id, "begin").get_cursor()
        for _ in range(1000):
            resp = client.pull_logs(PROJECT, logstore, shard_id, cursor, count=100)
            pulled = list(resp.get_loggroup_list().LogGroups)
            if not pulled:
                break
            for g in pulled:
                groups.append({
                    "shard": shard_id,
                    "topic": text(g.Topic),
                    "source": text(g.Source),
                    "tags": [(text(t.Key), text(t.Value)) for t in g.LogTags],
                    "logs": [(log.Time, [(text(c.Key), text(c.Value)) for c in log.Contents]) for log in g.Logs],
                })
            cursor = resp.get_next_cursor()
        else:
            pytest.fail("shard %d of %s never ran out of data" % (shard_id, logstore))
    return groups


def pull_until(client, logstore, wanted_groups, timeout=5.0):
    """Pull until `wanted_groups` groups are there (a 200 should mean stored; this only turns
    a late write into a clear failure instead of a flaky one)."""
    deadline = time.time() + timeout
    while True:
        groups = pull_everything(client, logstore)
        if len(groups) >= wanted_groups or time.time() > deadline:
            return groups
        time.sleep(0.2)


def short(value, limit=120):
    s = repr(value)
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


def check_requests(result, daemon, logstore, batches, transports):
    requests = result["requests"]
    summary = [(r["resourceType"], r.get("status"), r.get("failure"), short(r.get("body"))) for r in requests]
    assert len(requests) == len(batches), "expected %d /track requests, the browser made:\n%s" % (
        len(batches), "\n".join(map(str, summary)))
    assert [r["resourceType"] for r in requests] == transports, summary
    for index, (req, batch) in enumerate(zip(requests, batches)):
        where = "request %d (%s)" % (index + 1, short(req.get("body")))
        assert req["method"] == "POST", where
        assert req["url"] == track_url(daemon, logstore), where
        assert req["headers"]["content-type"] == "text/plain;charset=UTF-8", where
        assert req["headers"]["origin"] == result["pageOrigin"], where
        assert not [h for h in req["headers"] if h.startswith("x-log-") or h == "authorization"], where
        body = json.loads(req["body"])
        # Exactly what the SDK puts in the body, keys in order (json.loads keeps order).
        assert list(body) == ["__logs__", "__tags__", "__topic__", "__source__"], where
        assert [list(log.items()) for log in body["__logs__"]] == [list(log.items()) for log in batch], where
        assert body["__tags__"] == TAGS and list(body["__tags__"]) == list(TAGS), where
        assert (body["__topic__"], body["__source__"]) == (TOPIC, SOURCE), where
        assert req.get("failure") is None, "%s failed in the browser: %s" % (where, req.get("failure"))


def test_browser_sdk_logs_arrive_exactly(daemon, client, run_browser):
    logstore = unique("browser")
    with pytest.raises(LogException):  # neither the project nor the logstore exists yet
        client.get_logstore(PROJECT, logstore)

    window_start = math.floor(time.time())
    result = run_browser("main", {"logstore": logstore})
    check_requests(result, daemon, logstore, MAIN_BATCHES, MAIN_TRANSPORTS)
    for index, req in enumerate(result["requests"]):
        where = "request %d" % (index + 1)
        assert req["status"] == 200, "%s: status %s, body %r" % (where, req["status"], req.get("responseBody"))
        assert req["responseHeaders"].get("access-control-allow-origin") == "*", where
        assert req["responseHeaders"].get("x-log-requestid"), where

    groups = pull_until(client, logstore, len(MAIN_BATCHES))
    window_end = math.ceil(time.time())

    # Auto-created by the first anonymous write: project from default_project, tracking on.
    assert PROJECT in [p["projectName"] for p in client.list_project().get_projects()]
    assert client.get_logstore(PROJECT, logstore).get_enable_tracking() is True

    def canonical(logs):  # each log's contents as ordered pairs, exactly as sent
        return [list(contents) for contents in logs]

    expected = sorted(canonical(log.items() for log in batch) for batch in MAIN_BATCHES)
    pulled = sorted(canonical(contents for _, contents in g["logs"]) for g in groups)
    assert pulled == expected, "pulled LogGroups differ from the 7 POSTs:\n%s" % "\n".join(
        short(g["logs"], 300) for g in groups)

    for group in groups:
        where = "group %s" % short(group["logs"][0][1])
        assert group["topic"] == TOPIC, where
        assert group["source"] == SOURCE, where
        assert list(group["tags"]) == list(TAGS.items()), (where, group["tags"])
        times = {t for t, _ in group["logs"]}
        assert len(times) == 1, "%s: one POST, one receive time, got %r" % (where, times)
        assert window_start <= times.pop() <= window_end, (where, window_start, window_end)

    # The flushes follow each other in time: timer flushes come >= 1 s after the previous POST.
    by_step = {dict(g["logs"][0][1])["step"]: g["logs"][0][0] for g in groups}
    assert by_step["send-count-1"] <= by_step["send-timer"] <= by_step["batch-1"] <= by_step["xhr-large"]


def test_tracking_disabled_logstore_stores_nothing(daemon, client, run_browser):
    try:
        client.get_project(PROJECT)
    except LogException:
        client.create_project(PROJECT, "web tracking browser test")
    disabled = unique("browser-off")
    control = unique("browser-on")
    client.create_logstore(PROJECT, disabled, ttl=1, shard_count=1, enable_tracking=False)
    assert client.get_logstore(PROJECT, disabled).get_enable_tracking() is False

    result = run_browser("disabled", {"disabledLogstore": disabled, "controlLogstore": control})
    requests = result["requests"]
    assert [(r["url"], r["resourceType"]) for r in requests] == [
        (track_url(daemon, disabled), "ping"),
        (track_url(daemon, disabled), "xhr"),
        (track_url(daemon, control), "ping"),
    ], [(r["url"], r["resourceType"], r.get("status")) for r in requests]
    beacon, xhr, accepted = requests
    assert accepted["status"] == 200, accepted
    for refused in (beacon, xhr):
        assert refused["status"] == 401, "tracking-disabled POST answered %s %r" % (
            refused["status"], refused.get("responseBody"))
    # The XHR's refusal is readable cross-origin: CORS header and the SLS error body.
    # (Chromium reports no response headers or body for a beacon, so only the status there.)
    assert xhr["responseHeaders"].get("access-control-allow-origin") == "*", xhr["responseHeaders"]
    assert json.loads(xhr["responseBody"])["errorCode"] == "Unauthorized", xhr["responseBody"]

    control_groups = pull_until(client, control, 1)
    assert [dict(c) for g in control_groups for _, c in g["logs"]] == [{"step": "control"}]
    # The control POST left the browser after the refused ones and is stored; they are not.
    assert pull_everything(client, disabled) == []
