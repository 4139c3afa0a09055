"""Helpers for the SDK conformance suite: what a written LogGroup must look like when
pulled back, and SDK calls wrapped so that tests read as the property they check."""

import base64
import collections
import time

import pytest
from aliyun.log import LogException, LogItem, PutLogsRequest

from conftest import CLIENT_SOURCE

Group = collections.namedtuple("Group", "topic source tags logs")
LogRecord = collections.namedtuple("LogRecord", "time time_ns contents")

KEY_SPACE_END = "f" * 32
# Initial ranges of a 4-shard logstore (sls.md §8.1).
FOUR_SHARD_RANGES = [
    ("00000000000000000000000000000000", "40000000000000000000000000000000"),
    ("40000000000000000000000000000000", "80000000000000000000000000000000"),
    ("80000000000000000000000000000000", "c0000000000000000000000000000000"),
    ("c0000000000000000000000000000000", KEY_SPACE_END),
]
META_TAGS = ("__receive_time__", "__client_ip__")
CASE_KEY = "case"  # every written group carries a unique ("case", label) content first
PULL_PAGE = 3  # small pages, so that pulls really follow x-log-cursor across responses
MAX_PAGES = 500


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


def normalize_pulled(log_group):
    """A pulled protobuf LogGroup as a comparable Group."""
    return Group(
        topic=_text(log_group.Topic),
        source=_text(log_group.Source),
        tags=tuple((_text(t.Key), _text(t.Value)) for t in log_group.LogTags),
        logs=tuple(
            LogRecord(
                time=log.Time,
                time_ns=log.Time_ns,
                contents=tuple((_text(c.Key), _text(c.Value)) for c in log.Contents),
            )
            for log in log_group.Logs
        ),
    )


def label_of(group):
    first = group.logs[0].contents[0] if group.logs and group.logs[0].contents else None
    return first[1] if first and first[0] == CASE_KEY else None


def group_diff(want, got):
    """Human-readable differences between a written and a pulled Group."""
    lines = []
    for field in ("topic", "source", "tags"):
        if getattr(want, field) != getattr(got, field):
            lines.append("%s: wrote %r, pulled %r" % (field, getattr(want, field), getattr(got, field)))
    if len(want.logs) != len(got.logs):
        lines.append("log count: wrote %d, pulled %d" % (len(want.logs), len(got.logs)))
    for index, (w, g) in enumerate(zip(want.logs, got.logs)):
        for field in ("time", "time_ns"):
            if getattr(w, field) != getattr(g, field):
                lines.append("log %d %s: wrote %r, pulled %r" % (index, field, getattr(w, field), getattr(g, field)))
        if w.contents != g.contents:
            lines.append("log %d contents: wrote %r, pulled %r" % (index, w.contents[:8], g.contents[:8]))
        if len(lines) > 12:
            lines.append("...")
            break
    return "\n".join(lines)


def error_of(call):
    """Run call(); return the LogException it raised (fail if it succeeded)."""
    try:
        call()
    except LogException as err:
        return err
    pytest.fail("expected a LogException, but the call succeeded")


def describe(err):
    return "%s (HTTP %s): %s" % (err.get_error_code(), err.get_resp_status(), err.get_error_message())


def assert_error(err, code, status):
    assert err is not None, "expected %s, got success" % code
    assert (err.get_error_code(), err.get_resp_status()) == (code, status), describe(err)


class WriteSpec:
    """One PutLogs call: what to send, how, and where it must land (if routed)."""

    def __init__(self, label, logs, topic="", source=None, tags=(), hash_key=None,
                 expected_shard=None, compress=True, compress_type=None):
        self.label = label
        self.logs = logs  # [(unix_seconds, time_nano_part or None, [(k, v), ...]), ...]
        self.topic = topic
        self.source = source
        self.tags = tuple(tags)
        self.hash_key = hash_key
        self.expected_shard = expected_shard
        self.compress = compress
        self.compress_type = compress_type

    @property
    def compression(self):
        return "none" if not self.compress else (self.compress_type or "lz4")


def put_spec(client, project, logstore, spec):
    """Send spec with the SDK; return the Group that PullLogs must give back."""
    items = []
    for index, (seconds, nanos, contents) in enumerate(spec.logs):
        contents = list(contents)
        if index == 0:
            contents.insert(0, (CASE_KEY, spec.label))
        items.append(LogItem(timestamp=seconds, contents=contents, time_nano_part=nanos))
    request = PutLogsRequest(
        project, logstore, spec.topic, spec.source, items,
        hashKey=spec.hash_key, compress=spec.compress,
        logtags=list(spec.tags) if spec.tags else None, compress_type=spec.compress_type,
    )
    client.put_logs(request)
    return Group(
        topic=spec.topic,
        source=spec.source or CLIENT_SOURCE,
        tags=spec.tags,
        logs=tuple(
            # The SDK replaces a missing nano part by the clock's (sls.md §1): the item knows it.
            LogRecord(item.get_time(), item.get_time_nano_part(), tuple(item.get_contents()))
            for item in items
        ),
    )


def pull_all(client, project, logstore, shard, cursor=None, page=PULL_PAGE, **pull_kwargs):
    """Every LogGroup of a shard from cursor (default: begin) until a pull returns none."""
    if cursor is None:
        cursor = client.get_cursor(project, logstore, shard, "begin").get_cursor()
    groups = []
    for _ in range(MAX_PAGES):
        resp = client.pull_logs(project, logstore, shard, cursor, count=page, **pull_kwargs)
        pulled = list(resp.get_loggroup_list().LogGroups)
        assert resp.get_loggroup_count() == len(pulled), (
            "x-log-count=%d but the body holds %d LogGroups"
            % (resp.get_loggroup_count(), len(pulled)))
        if not pulled:
            return groups
        assert len(pulled) <= page, "asked for count=%d, got %d LogGroups" % (page, len(pulled))
        assert resp.get_next_cursor() != cursor, "x-log-cursor did not advance past %d groups" % len(pulled)
        groups.extend(normalize_pulled(g) for g in pulled)
        cursor = resp.get_next_cursor()
    pytest.fail("shard %d of %s never ran out of data after %d pulls" % (shard, logstore, MAX_PAGES))


def pull_shards(client, project, logstore, shard_ids, **kwargs):
    return {shard: pull_all(client, project, logstore, shard, **kwargs) for shard in shard_ids}


def cursor_number(cursor):
    """sls.md §9.1: a cursor is base64 of the decimal ASCII of an int64."""
    decoded = base64.b64decode(cursor, validate=True).decode("ascii")
    assert decoded.isdigit(), "cursor %r decodes to %r, not a decimal integer" % (cursor, decoded)
    return int(decoded)


def shard_table(client, project, logstore):
    """list_shards as {shardID: (status, begin, end)}."""
    shards = client.list_shards(project, logstore).get_shards_info()
    table = {}
    for shard in shards:
        assert isinstance(shard["shardID"], int), shard
        table[shard["shardID"]] = (shard["status"], shard["inclusiveBeginKey"], shard["exclusiveEndKey"])
    assert len(table) == len(shards), "duplicate shard ids in %r" % shards
    return table


def wait_for_next_second():
    """Sleep until just past the next whole second; return that second."""
    now = time.time()
    target = int(now) + 1
    time.sleep(target - now + 0.05)
    return target
