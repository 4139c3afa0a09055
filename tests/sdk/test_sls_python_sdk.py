"""Conformance of logtide with the official `aliyun-log-python-sdk`, driven end to end.

Every call goes through the unmodified SDK (signing, lz4/zstd bodies, protobuf) to the
real daemon binary started by conftest.py.  Protocol facts cited as sls.md §N are in
shared/docs/protocols/sls.md.

Data-plane tests share module fixtures that do the writing once and record what was
sent (and whether each write was accepted); the tests then read everything back and
compare it field by field, so each test checks one property and can fail on its own.
"""

import collections
import itertools
import time

import pytest
from aliyun.log import LogException

from conftest import READER_KEY, WRITER_KEY, http_get, make_client, start_daemon, stop_daemon, unique_name
from sls_support import (
    assert_error,
    cursor_number,
    describe,
    error_of,
    FOUR_SHARD_RANGES,
    group_diff,
    label_of,
    MAX_PAGES,
    META_TAGS,
    normalize_pulled,
    pull_all,
    pull_shards,
    put_spec,
    shard_table,
    wait_for_next_second,
    WriteSpec,
)

# ---------------------------------------------------------------------------------
# Daemon, projects, logstores, shards
# ---------------------------------------------------------------------------------

def test_health_endpoint_answers_200(daemon):
    status, _ = http_get(daemon, "/health")
    assert status == 200


def test_get_project_and_list_project(client, project):
    info = client.get_project(project)
    assert info.get_projectname() == project
    assert info.get_description() == "logtide python sdk conformance"
    assert isinstance(info.get_status(), str) and info.get_status(), info.get_body()

    listed = client.list_project()
    names = [p["projectName"] for p in listed.get_projects()]
    assert project in names
    assert listed.get_count() == len(names)
    assert listed.get_total() >= listed.get_count()


def test_create_project_twice_is_project_already_exist(client, project):
    err = error_of(lambda: client.create_project(project, "again"))
    assert_error(err, "ProjectAlreadyExist", 400)


def test_logstore_create_get_list_update(client, project):
    client.create_logstore(project, "ls-meta", ttl=30, shard_count=4, append_meta=False)

    info = client.get_logstore(project, "ls-meta")
    assert info.logstore_name == "ls-meta"
    assert info.get_ttl() == 30
    assert info.get_shard_count() == 4
    assert info.append_meta is False
    assert info.get_enable_tracking() is False
    assert info.auto_split is True  # the SDK's defaults, sent in the create body
    assert info.max_split_shard == 64

    listed = client.list_logstore(project)
    assert "ls-meta" in listed.get_logstores()
    assert listed.get_count() == len(listed.get_logstores())
    filtered = client.list_logstore(project, logstore_name_pattern="ls-meta").get_logstores()
    assert "ls-meta" in filtered
    assert all("ls-meta" in name for name in filtered), filtered

    client.update_logstore(project, "ls-meta", ttl=60)
    updated = client.get_logstore(project, "ls-meta")
    assert updated.get_ttl() == 60
    assert updated.get_shard_count() == 4
    assert updated.append_meta is False


def test_create_logstore_twice_is_logstore_already_exist(client, project):
    client.create_logstore(project, "ls-twice", ttl=7, shard_count=1)
    err = error_of(lambda: client.create_logstore(project, "ls-twice", ttl=7, shard_count=1))
    assert_error(err, "LogStoreAlreadyExist", 400)


def test_list_shards_of_four_shard_logstore(client, project):
    client.create_logstore(project, "ls-shards", ttl=30, shard_count=4)
    shards = client.list_shards(project, "ls-shards").get_shards_info()
    assert [s["shardID"] for s in shards] == [0, 1, 2, 3]
    for shard, (begin, end) in zip(shards, FOUR_SHARD_RANGES):
        assert shard["status"] == "readwrite", shard
        assert (shard["inclusiveBeginKey"], shard["exclusiveEndKey"]) == (begin, end), shard
        assert isinstance(shard["createTime"], int), shard  # GO unmarshals into int (sls.md §8.2)
        assert abs(shard["createTime"] - time.time()) < 600, shard


# ---------------------------------------------------------------------------------
# PutLogs / PullLogs round trip on a 4-shard logstore
# ---------------------------------------------------------------------------------

# (hash key, owning shard, compression, why it is interesting)
ROUTED_KEYS = [
    ("0f1e2d3c4b5a69788796a5b4c3d2e1f0", 0, "lz4", "plain md5-like key"),
    ("00000000000000000000000000000000", 0, "zstd", "first key of the key space"),
    ("3fffffffffffffffffffffffffffffff", 0, "none", "last key of shard 0"),
    ("4", 1, "lz4", "short: pads to 4000..0, the begin of shard 1 (string order would say 0)"),
    ("5a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d", 1, "zstd", "plain key in shard 1"),
    ("5F", 1, "none", "short upper-case key from the Shard doc"),
    ("8c", 2, "lz4", "short key from the Shard doc"),
    ("9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a49", 2, "none", "plain key in shard 2"),
    ("bfffffffffffffffffffffffffffffff", 2, "zstd", "last key of shard 2"),
    ("c0000000000000000000000000000000", 3, "lz4", "begin of shard 3 is inclusive"),
    ("C3D4E5F60718293A4B5C6D7E8F901234", 3, "zstd", "upper case: lower-cased c3.. (string order would say 2)"),
    ("ff00112233445566778899aabbccddee", 3, "none", "high key in the last shard"),
]


def _compression_kwargs(name):
    return {"lz4": {}, "zstd": {"compress_type": "zstd"}, "none": {"compress": False}}[name]


def build_write_specs(now):
    specs = [
        WriteSpec(
            "lz4/lb/unicode-and-times",
            topic="orders", source="10.1.1.1",
            tags=[("env", "prod"), ("region", "杭州"), ("empty-tag", "")],
            logs=[
                (now - 60, 123456789, [("msg", "hello world"), ("city", "Zürich"),
                                       ("greeting", "こんにちは世界"), ("emoji", "🚀✨"), ("empty", "")]),
                (now - 6 * 86400, 1, [("level", "INFO"), ("path", "/api/v1/x?y=z&w=ü")]),
                (now + 600, 999999999, [("level", "WARN"), ("note", "ten minutes ahead")]),
                (now, None, [("note", "nano part left to the SDK clock")]),
            ],
        ),
        WriteSpec(
            "zstd/lb/sixty-keys", compress_type="zstd",
            topic="wide", source="10.1.1.2", tags=[("pod", "api-7f9c")],
            logs=[
                (now - 5, 1000 + row,
                 [("field_%02d" % i, "value-%d-%d-ÄÖÜ" % (row, i)) for i in range(60)])
                for row in range(3)
            ],
        ),
        WriteSpec(
            "none/lb/empty-topic-and-odd-values", compress=False,
            topic="", source="10.1.1.3",
            logs=[
                (now - 10, 42, [("empty", ""), ("space", " "), ("tab", "\t"),
                                ("newline", "line1\nline2"), ("quote", "\"'\\")]),
                (now - 9, 43, [("only", "")]),
            ],
        ),
        WriteSpec(
            "lz4/lb/unicode-topic-source",
            topic="主题-ü", source="источник-1",
            tags=[("owner", "Jürgen"), ("__path__", "/var/log/app.log")],
            logs=[(now - 3, 7, [("k", "v")])],
        ),
        WriteSpec(
            "zstd/lb/punctuated-keys", compress_type="zstd",
            topic="keys", source="10.1.1.5",
            logs=[(now - 2, 8, [("http.status", "200"), ("trace-id", "abc-123"), ("a_b", "c")])],
        ),
        WriteSpec(
            "lz4/lb/client-default-source",
            topic="default-source", source=None,
            logs=[(now - 1, 9, [("k", "source comes from LogClient(source=...)")])],
        ),
    ]
    for n in range(6):
        compression = ("lz4", "zstd", "none")[n % 3]
        specs.append(WriteSpec(
            "%s/lb/seq-%d" % (compression, n),
            topic="seq", source="10.1.2.%d" % n, tags=[("seq", str(n))],
            logs=[(now - 30 + n, 500 + n, [("n", str(n))])],
            **_compression_kwargs(compression)))
    for n, (key, shard, compression, why) in enumerate(ROUTED_KEYS):
        specs.append(WriteSpec(
            "%s/route/%s" % (compression, key),
            topic="route", source="10.2.0.%d" % n, tags=[("hash", key)],
            hash_key=key, expected_shard=shard,
            logs=[(now - 20, 700 + n, [("why", why)]), (now - 19, 800 + n, [("n", str(n))])],
            **_compression_kwargs(compression)))
    big_value = "ü-" * 16384  # 48 KiB of UTF-8
    specs.append(WriteSpec(
        "lz4/route/200-logs-and-48KiB-value",
        topic="big", source="10.3.0.1", tags=[("size", "big")],
        hash_key="2a000000000000000000000000000000", expected_shard=0,
        logs=[(now - 100 + (row % 50), row + 1,
               [("row", str(row)), ("payload", big_value if row == 7 else "x" * row)])
              for row in range(200)]))
    specs.append(WriteSpec(
        "zstd/route/100-logs",
        topic="big", source="10.3.0.2", tags=[("size", "medium")],
        hash_key="e1000000000000000000000000000000", expected_shard=3, compress_type="zstd",
        logs=[(now - 50, row + 1, [("row", str(row)), ("text", "日志 %d" % row)]) for row in range(100)]))
    labels = [spec.label for spec in specs]
    assert len(set(labels)) == len(labels), "write labels must be unique"
    return specs


class Written:
    def __init__(self, index, spec, group, error):
        self.index = index
        self.spec = spec
        self.group = group  # expected pulled Group, None when the write failed
        self.error = error  # LogException text, None when accepted


class DataStore:
    def __init__(self, logstore, written):
        self.logstore = logstore
        self.written = written
        self.by_label = {w.spec.label: w for w in written}
        self.accepted = [w for w in written if w.error is None]


@pytest.fixture(scope="module")
def data_store(client, project):
    logstore = "ls-data"
    client.create_logstore(project, logstore, ttl=30, shard_count=4, append_meta=False)
    written = []
    for index, spec in enumerate(build_write_specs(int(time.time()))):
        try:
            group, error = put_spec(client, project, logstore, spec), None
        except LogException as err:
            group, error = None, describe(err)
        written.append(Written(index, spec, group, error))
    return DataStore(logstore, written)


@pytest.fixture(scope="module")
def pulled(client, project, data_store):
    """{shard: [Group, ...]} read from every shard's begin cursor with lz4 responses."""
    return pull_shards(client, project, data_store.logstore, range(4))


def test_put_logs_accepts_every_variant(data_store):
    failures = ["%s: %s" % (w.spec.label, w.error) for w in data_store.written if w.error]
    assert failures == [], "PutLogs rejected %d of %d writes" % (len(failures), len(data_store.written))


def test_pull_returns_exactly_what_was_written(data_store, pulled):
    seen = collections.Counter()
    mismatches = []
    unexpected = []
    for shard, groups in pulled.items():
        for group in groups:
            label = label_of(group)
            seen[label] += 1
            written = data_store.by_label.get(label)
            if written is None or written.group is None:
                unexpected.append((shard, group))
            elif group != written.group:
                mismatches.append((label, shard, written.group, group))
    duplicates = sorted(label for label, n in seen.items() if n > 1)
    missing = sorted(w.spec.label for w in data_store.accepted if seen[w.spec.label] == 0)
    assert not missing, "accepted writes not found in any shard: %r" % missing
    assert not duplicates, "LogGroups returned more than once: %r" % duplicates
    assert not unexpected, "LogGroups that were never written (or were rejected): %r" % unexpected
    report = ["LogGroup %r from shard %d:\n  %s" % (label, shard, group_diff(want, got).replace("\n", "\n  "))
              for label, shard, want, got in mismatches]
    assert not report, "pulled LogGroups differ from what was written:\n" + "\n".join(report)
    assert sum(seen.values()) == len(data_store.accepted)


def test_hash_key_routes_to_owning_shard(data_store, pulled):
    where = {label_of(g): shard for shard, groups in pulled.items() for g in groups}
    wrong = []
    for w in data_store.accepted:
        if w.spec.expected_shard is not None and where.get(w.spec.label) != w.spec.expected_shard:
            wrong.append("key %r: expected shard %d, found in %s"
                         % (w.spec.hash_key, w.spec.expected_shard, where.get(w.spec.label)))
    routed = [w for w in data_store.accepted if w.spec.expected_shard is not None]
    assert len(routed) == len(ROUTED_KEYS) + 2, "routed writes were rejected; see the PutLogs test"
    assert not wrong, "misrouted hash keys:\n" + "\n".join(wrong)


def test_pull_keeps_write_order_within_each_shard(data_store, pulled):
    for shard, groups in pulled.items():
        order = [data_store.by_label[label_of(g)].index for g in groups
                 if label_of(g) in data_store.by_label]
        assert order == sorted(order), "shard %d returned LogGroups out of write order" % shard


def test_every_shard_received_data(pulled):
    # The routed keys cover every shard; an empty shard means routing or pulling is broken.
    assert {shard: len(groups) > 0 for shard, groups in pulled.items()} == {0: True, 1: True, 2: True, 3: True}


@pytest.mark.parametrize("pull_kwargs", [
    {"accept_compress_type": "zstd"},
    {"compress": False},
    {"page": 1000},
    {"page": 1},
], ids=["zstd-response", "uncompressed-response", "one-page", "one-group-per-page"])
def test_pull_variants_return_the_same_groups(client, project, data_store, pulled, pull_kwargs):
    again = pull_shards(client, project, data_store.logstore, range(4), **pull_kwargs)
    for shard in range(4):
        assert again[shard] == pulled[shard], "shard %d differs with %r" % (shard, pull_kwargs)


def test_end_cursor_pulls_nothing(client, project, data_store, pulled):
    for shard in range(4):
        begin = client.get_cursor(project, data_store.logstore, shard, "begin").get_cursor()
        end = client.get_cursor(project, data_store.logstore, shard, "end").get_cursor()
        assert begin != end, "shard %d holds %d groups but begin == end" % (shard, len(pulled[shard]))
        resp = client.pull_logs(project, data_store.logstore, shard, end, count=10)
        assert resp.get_loggroup_count() == 0
        assert len(resp.get_loggroup_list().LogGroups) == 0
        # sls.md §9.3: x-log-cursor is the requested cursor when there is no data.
        assert resp.get_next_cursor() == end


def test_cursors_are_base64_decimal_and_consecutive(client, project, data_store, pulled):
    shard = 0
    begin = client.get_cursor(project, data_store.logstore, shard, "begin").get_cursor()
    end = client.get_cursor(project, data_store.logstore, shard, "end").get_cursor()
    first = client.pull_logs(project, data_store.logstore, shard, begin, count=1)
    assert first.get_loggroup_count() == 1
    # sls.md §9.1: one cursor per LogGroup, consecutive (PY computes the previous one as n-1).
    assert cursor_number(first.get_next_cursor()) == cursor_number(begin) + 1
    assert cursor_number(end) == cursor_number(begin) + len(pulled[shard])


@pytest.mark.parametrize("encoding", ["lz4", "zstd"])
def test_pull_response_is_compressed_as_asked(client, project, data_store, pulled, encoding):
    # sls.md §9.3: GO requires x-log-compresstype whenever the body is non-empty.
    begin = client.get_cursor(project, data_store.logstore, 0, "begin").get_cursor()
    resp = client.pull_logs(project, data_store.logstore, 0, begin, count=2, accept_compress_type=encoding)
    headers = {k.lower(): v for k, v in resp.get_all_headers().items()}
    assert headers.get("x-log-compresstype") == encoding, headers
    assert int(headers["x-log-bodyrawsize"]) > 0
    assert [normalize_pulled(g) for g in resp.get_loggroup_list().LogGroups] == pulled[0][:2]


def test_pull_stops_at_end_cursor(client, project, data_store, pulled):
    assert len(pulled[0]) >= 3, "shard 0 should hold several groups"
    begin = client.get_cursor(project, data_store.logstore, 0, "begin").get_cursor()
    after_two = client.pull_logs(project, data_store.logstore, 0, begin, count=2).get_next_cursor()
    bounded = client.pull_logs(project, data_store.logstore, 0, begin, count=100, end_cursor=after_two)
    assert [normalize_pulled(g) for g in bounded.get_loggroup_list().LogGroups] == pulled[0][:2]
    assert bounded.get_next_cursor() == after_two
    empty = client.pull_logs(project, data_store.logstore, 0, after_two, count=100, end_cursor=after_two)
    assert empty.get_loggroup_count() == 0


def test_sdk_pull_log_time_range_helper(client, project, data_store, pulled):
    # LogClient.pull_log loops pull_logs(end_cursor=...) until x-log-cursor equals the end cursor.
    now = int(time.time())
    responses = itertools.islice(
        client.pull_log(project, data_store.logstore, 0, now - 3600, now + 3600, batch_size=2), MAX_PAGES)
    groups = [normalize_pulled(g) for resp in responses for g in resp.get_loggroup_list().LogGroups]
    assert groups == pulled[0]


def test_get_cursor_by_old_unix_time_is_begin(client, project, data_store, pulled):
    an_hour_ago = int(time.time()) - 3600  # before any of these writes were received
    for shard in range(4):
        cursor = client.get_cursor(project, data_store.logstore, shard, an_hour_ago).get_cursor()
        assert pull_all(client, project, data_store.logstore, shard, cursor=cursor) == pulled[shard]


def test_get_cursor_by_unix_time_uses_receive_time(client, project):
    logstore = "ls-time"
    client.create_logstore(project, logstore, ttl=30, shard_count=1)
    now = int(time.time())
    # Log times are old on purpose: the cursor follows receive time, not log time (sls.md §9.2).
    before = put_spec(client, project, logstore, WriteSpec("before", [(now - 3000, 1, [("k", "a")])]))
    boundary = wait_for_next_second()
    after = put_spec(client, project, logstore, WriteSpec("after", [(now - 4000, 2, [("k", "b")])]))

    at_boundary = client.get_cursor(project, logstore, 0, boundary).get_cursor()
    assert pull_all(client, project, logstore, 0, cursor=at_boundary) == [after]

    earlier = client.get_cursor(project, logstore, 0, boundary - 600).get_cursor()
    assert pull_all(client, project, logstore, 0, cursor=earlier) == [before, after]

    later = client.get_cursor(project, logstore, 0, int(time.time()) + 3600).get_cursor()
    end = client.get_cursor(project, logstore, 0, "end").get_cursor()
    assert later == end
    assert pull_all(client, project, logstore, 0, cursor=later) == []


# ---------------------------------------------------------------------------------
# appendMeta
# ---------------------------------------------------------------------------------

def test_append_meta_adds_receive_time_and_client_ip_tags(client, project):
    logstore = "ls-appendmeta"
    client.create_logstore(project, logstore, ttl=30, shard_count=2, append_meta=True)
    assert client.get_logstore(project, logstore).append_meta is True

    now = int(time.time())
    spec = WriteSpec("meta", topic="t", source="10.9.9.9", tags=[("env", "meta-test"), ("b", "2")],
                     hash_key="00000000000000000000000000000001", expected_shard=0,
                     logs=[(now - 5, 11, [("k", "v")]), (now - 4, 12, [("k2", "ü")])])
    sent_at = time.time()
    written = put_spec(client, project, logstore, spec)
    acked_at = time.time()

    groups = pull_all(client, project, logstore, 0)
    assert len(groups) == 1
    got = groups[0]
    plain_tags = tuple((k, v) for k, v in got.tags if k not in META_TAGS)
    meta = [(k, v) for k, v in got.tags if k in META_TAGS]
    assert got._replace(tags=plain_tags) == written
    assert sorted(k for k, _ in meta) == sorted(META_TAGS), "each meta tag exactly once: %r" % (got.tags,)
    meta = dict(meta)
    assert meta["__client_ip__"] == "127.0.0.1"
    receive_time = meta["__receive_time__"]
    assert receive_time.isdigit(), "__receive_time__ %r is not unix seconds" % receive_time
    assert int(sent_at) - 2 <= int(receive_time) <= int(acked_at) + 2, (receive_time, sent_at)
    assert pull_all(client, project, logstore, 1) == []


# ---------------------------------------------------------------------------------
# Errors, and that a rejected request stores nothing
# ---------------------------------------------------------------------------------

class Rejections:
    def __init__(self, logstore, control, errors):
        self.logstore = logstore
        self.control = control  # the one accepted Group
        self.errors = errors  # label -> LogException or None (accepted!)


@pytest.fixture(scope="module")
def rejections(daemon, client, project):
    logstore = "ls-reject"
    client.create_logstore(project, logstore, ttl=30, shard_count=1)
    now = int(time.time())
    control = put_spec(client, project, logstore,
                       WriteSpec("control", topic="ok", source="10.5.0.1", logs=[(now - 1, 1, [("k", "kept")])]))

    def good_logs(tag):
        return [(now - 2, 2, [("k", tag + "-good-1")]), (now - 1, 3, [("k", tag + "-good-2")])]

    attempts = {
        "wrong-secret": (make_client(daemon, access_key_secret="SECRETWRONG"),
                         WriteSpec("wrong-secret", logs=good_logs("wrong-secret"))),
        "unknown-access-key": (make_client(daemon, access_key_id="AKIDUNKNOWN"),
                               WriteSpec("unknown-access-key", logs=good_logs("unknown-ak"))),
        "eight-days-old": (client, WriteSpec(
            "eight-days-old",
            logs=good_logs("old")[:1] + [(now - 8 * 86400, 4, [("k", "too old")])] + good_logs("old")[1:])),
        "one-hour-ahead": (client, WriteSpec(
            "one-hour-ahead", compress_type="zstd",
            logs=good_logs("future")[:1] + [(now + 3600, 5, [("k", "too new")])] + good_logs("future")[1:])),
    }
    errors = {}
    for label, (who, spec) in attempts.items():
        try:
            put_spec(who, project, logstore, spec)
            errors[label] = None
        except LogException as err:
            errors[label] = err
    return Rejections(logstore, control, errors)


def test_wrong_secret_is_signature_not_match(daemon, project, rejections):
    assert_error(rejections.errors["wrong-secret"], "SignatureNotMatch", 401)
    bad = make_client(daemon, access_key_secret="SECRETWRONG")
    assert_error(error_of(lambda: bad.list_shards(project, rejections.logstore)), "SignatureNotMatch", 401)
    assert_error(error_of(lambda: bad.get_project(project)), "SignatureNotMatch", 401)


def test_unknown_access_key_is_invalid_access_key_id(daemon, project, rejections):
    assert_error(rejections.errors["unknown-access-key"], "InvalidAccessKeyId", 401)
    bad = make_client(daemon, access_key_id="AKIDUNKNOWN")
    assert_error(error_of(lambda: bad.get_logstore(project, rejections.logstore)), "InvalidAccessKeyId", 401)


@pytest.mark.parametrize("label", ["eight-days-old", "one-hour-ahead"])
def test_log_time_out_of_window_is_post_body_invalid(rejections, label):
    # Seed doc (sls-post-logstore-logs-api): 499 PostBodyInvalid, window [-7 days, +15 min].
    assert_error(rejections.errors[label], "PostBodyInvalid", 499)


def test_rejected_requests_store_nothing(client, project, rejections):
    groups = pull_all(client, project, rejections.logstore, 0)
    assert groups == [rejections.control], "only the control write may be stored"


def test_request_id_on_success_and_error(client, project):
    # sls.md §2.3: x-log-requestid on every response (loongcollector rejects responses without it).
    assert client.get_project(project).get_request_id()
    err = error_of(lambda: client.get_logstore(project, "ls-missing"))
    assert err.get_request_id(), describe(err)


def test_read_only_and_write_only_keys(daemon, client, project):
    """Per-project grants: a read-only key reads but cannot write, a write-only key writes logs but
    cannot read them back or list the catalog; a refused write stores nothing."""
    reader = make_client(daemon, access_key_id=READER_KEY[0], access_key_secret=READER_KEY[1])
    writer = make_client(daemon, access_key_id=WRITER_KEY[0], access_key_secret=WRITER_KEY[1])
    client.create_logstore(project, "ls-grants", ttl=30, shard_count=1)
    now = int(time.time())
    written = put_spec(writer, project, "ls-grants", WriteSpec("by-writer", logs=[(now, 1, [("k", "agent")])]))
    refused = error_of(lambda: put_spec(reader, project, "ls-grants",
                                        WriteSpec("by-reader", logs=[(now, 2, [("k", "reader")])])))
    assert_error(refused, "Unauthorized", 401)
    assert "may not write to project" in refused.get_error_message()
    assert_error(error_of(lambda: reader.create_logstore(project, "ls-by-reader", ttl=30, shard_count=1)),
                 "Unauthorized", 401)
    assert_error(error_of(lambda: writer.get_cursor(project, "ls-grants", 0, "begin")), "Unauthorized", 401)
    assert_error(error_of(lambda: writer.list_logstore(project)), "Unauthorized", 401)
    assert pull_all(reader, project, "ls-grants", 0) == [written], "the reader sees exactly the writer's write"
    assert project in [p["projectName"] for p in reader.list_project().get_projects()]
    assert project not in [p["projectName"] for p in writer.list_project().get_projects()]


def test_signature_v4_client(daemon, project):
    v4 = make_client(daemon, auth_version="v4", region="cn-hangzhou")
    assert project in [p["projectName"] for p in v4.list_project().get_projects()]
    v4.create_logstore(project, "ls-v4", ttl=30, shard_count=2)
    assert v4.get_logstore(project, "ls-v4").get_shard_count() == 2
    now = int(time.time())
    lz4_group = put_spec(v4, project, "ls-v4", WriteSpec(
        "v4-lz4", topic="v4", source="10.7.0.1", tags=[("auth", "v4")], hash_key="9",
        logs=[(now, 5, [("k", "signed with v4 ü")])]))
    zstd_group = put_spec(v4, project, "ls-v4", WriteSpec(
        "v4-zstd", topic="v4", source="10.7.0.1", hash_key="1", compress_type="zstd",
        logs=[(now, 6, [("k", "v4 zstd")])]))
    assert pull_shards(v4, project, "ls-v4", [0, 1]) == {0: [zstd_group], 1: [lz4_group]}
    bad = make_client(daemon, access_key_secret="SECRETWRONG", auth_version="v4", region="cn-hangzhou")
    assert_error(error_of(lambda: bad.get_logstore(project, "ls-v4")), "SignatureNotMatch", 401)


def test_missing_logstore_is_logstore_not_exist(client, project):
    spec = WriteSpec("missing-logstore", logs=[(int(time.time()), 1, [("k", "v")])])
    assert_error(error_of(lambda: put_spec(client, project, "ls-missing", spec)), "LogStoreNotExist", 404)
    assert_error(error_of(lambda: client.get_logstore(project, "ls-missing")), "LogStoreNotExist", 404)
    assert_error(error_of(lambda: client.list_shards(project, "ls-missing")), "LogStoreNotExist", 404)
    assert_error(error_of(lambda: client.get_cursor(project, "ls-missing", 0, "begin")), "LogStoreNotExist", 404)


def test_missing_project_is_project_not_exist(client):
    missing = unique_name("sdk-missing")
    spec = WriteSpec("missing-project", logs=[(int(time.time()), 1, [("k", "v")])])
    assert_error(error_of(lambda: put_spec(client, missing, "ls-any", spec)), "ProjectNotExist", 404)
    assert_error(error_of(lambda: client.get_project(missing)), "ProjectNotExist", 404)
    assert_error(error_of(lambda: client.create_logstore(missing, "ls-any", shard_count=1)), "ProjectNotExist", 404)


# ---------------------------------------------------------------------------------
# Split and merge
# ---------------------------------------------------------------------------------

SPLIT_KEY = "20000000000000000000000000000000"
LOW_KEY = "10000000000000000000000000000000"  # in [00.., 20..)
HIGH_KEY = "30000000000000000000000000000000"  # in [20.., 40..)


class SplitState:
    def __init__(self, logstore, parent_group, response, left, right):
        self.logstore = logstore
        self.parent_group = parent_group
        self.response = response
        self.left = left  # child id owning [00.., 20..)
        self.right = right  # child id owning [20.., 40..)


@pytest.fixture(scope="module")
def split_state(client, project):
    logstore = "ls-split"
    client.create_logstore(project, logstore, ttl=30, shard_count=4)
    now = int(time.time())
    parent_group = put_spec(client, project, logstore, WriteSpec(
        "before-split", topic="split", source="10.6.0.1", hash_key=LOW_KEY, expected_shard=0,
        logs=[(now - 1, 1, [("k", "written to shard 0 before the split")])]))
    response = client.split_shard(project, logstore, 0, SPLIT_KEY).get_shards_info()
    table = shard_table(client, project, logstore)
    by_range = {(b, e): sid for sid, (_, b, e) in table.items() if sid not in (0, 1, 2, 3)}
    left = by_range.get(("00000000000000000000000000000000", SPLIT_KEY))
    right = by_range.get((SPLIT_KEY, "40000000000000000000000000000000"))
    return SplitState(logstore, parent_group, response, left, right)


def test_split_shard_response_and_list(client, project, split_state):
    got = {s["shardID"]: (s["status"], s["inclusiveBeginKey"], s["exclusiveEndKey"])
           for s in split_state.response}
    assert split_state.left is not None and split_state.right is not None, shard_table(
        client, project, split_state.logstore)
    expected_new = {
        0: ("readonly", "00000000000000000000000000000000", "40000000000000000000000000000000"),
        split_state.left: ("readwrite", "00000000000000000000000000000000", SPLIT_KEY),
        split_state.right: ("readwrite", SPLIT_KEY, "40000000000000000000000000000000"),
    }
    assert got == expected_new, "split_shard response (sls.md §8.3)"
    # Ids come from a logstore-wide counter that only grows (sls.md §8.1).
    assert min(split_state.left, split_state.right) > 3

    expected_all = dict(expected_new)
    for sid in (1, 2, 3):
        expected_all[sid] = ("readwrite",) + FOUR_SHARD_RANGES[sid]
    assert shard_table(client, project, split_state.logstore) == expected_all


def test_split_children_take_writes_and_parent_stays_readable(client, project, split_state):
    now = int(time.time())
    low = put_spec(client, project, split_state.logstore, WriteSpec(
        "after-split-low", hash_key=LOW_KEY, logs=[(now, 2, [("k", "low child")])]))
    high = put_spec(client, project, split_state.logstore, WriteSpec(
        "after-split-high", hash_key=HIGH_KEY, compress_type="zstd", logs=[(now, 3, [("k", "high child")])]))
    assert pull_all(client, project, split_state.logstore, 0) == [split_state.parent_group]
    left = pull_all(client, project, split_state.logstore, split_state.left)
    right = pull_all(client, project, split_state.logstore, split_state.right)
    assert low in left and high not in left, "key %s must go to child %d" % (LOW_KEY, split_state.left)
    assert high in right and low not in right, "key %s must go to child %d" % (HIGH_KEY, split_state.right)


def test_split_of_readonly_shard_is_rejected(client, project, split_state):
    err = error_of(lambda: client.split_shard(project, split_state.logstore, 0,
                                              "08000000000000000000000000000000"))
    assert_error(err, "ParameterInvalid", 400)


def test_merge_shard(client, project, split_state):
    response = client.merge_shard(project, split_state.logstore, split_state.left).get_shards_info()
    got = {s["shardID"]: (s["status"], s["inclusiveBeginKey"], s["exclusiveEndKey"]) for s in response}
    merged = [sid for sid in got if sid not in (split_state.left, split_state.right)]
    assert len(merged) == 1, "merge_shard response %r" % response
    merged = merged[0]
    assert merged > max(split_state.left, split_state.right)
    assert got == {
        merged: ("readwrite", "00000000000000000000000000000000", "40000000000000000000000000000000"),
        split_state.left: ("readonly", "00000000000000000000000000000000", SPLIT_KEY),
        split_state.right: ("readonly", SPLIT_KEY, "40000000000000000000000000000000"),
    }, "merge_shard response (sls.md §8.4)"

    table = shard_table(client, project, split_state.logstore)
    assert table[0][0] == "readonly"
    assert {sid: table[sid][0] for sid in (split_state.left, split_state.right, merged, 1, 2, 3)} == {
        split_state.left: "readonly", split_state.right: "readonly", merged: "readwrite",
        1: "readwrite", 2: "readwrite", 3: "readwrite"}
    assert len(table) == 7

    now = int(time.time())
    into_merged = put_spec(client, project, split_state.logstore, WriteSpec(
        "after-merge", hash_key=HIGH_KEY, logs=[(now, 4, [("k", "merged")])]))
    assert pull_all(client, project, split_state.logstore, merged) == [into_merged]
    assert pull_all(client, project, split_state.logstore, 0) == [split_state.parent_group]
    assert into_merged not in pull_all(client, project, split_state.logstore, split_state.right)


# ---------------------------------------------------------------------------------
# GetLogs / GetHistograms (search syntax without SQL; sls.md §9.4)
# ---------------------------------------------------------------------------------

def test_get_logs_and_histograms_through_the_sdk(client, project):
    """The SDK's get_log (GetLogs v2, lz4-compressed answer) and get_histograms (v1 form) over
    logs written by the SDK: search syntax, topic, reverse/offset/size, string-valued rows."""
    from aliyun.log import GetHistogramsRequest

    logstore = "ls-search"
    client.create_logstore(project, logstore, ttl=30, shard_count=2)
    t = int(time.time()) - 60
    rows = [("GET", "user alice logged in"), ("POST", "user bob timed out"), ("GET", "disk error on sda")]
    spec = WriteSpec("search", topic="web", source="192.0.2.44", logs=[(t + i, None, [("method", m), ("msg", msg)]) for i, (m, msg) in enumerate(rows)])
    put_spec(client, project, logstore, spec)
    try:
        def msgs(**kwargs):
            resp = client.get_log(project, logstore, t - 5, t + 60, **kwargs)
            assert resp.is_completed()
            return [log.get_contents()["msg"] for log in resp.get_logs()]

        assert msgs() == [msg for _, msg in rows]
        assert msgs(query="error OR bob") == ["user bob timed out", "disk error on sda"]
        assert msgs(query="method: GET and alice") == ["user alice logged in"]
        assert msgs(query="NOT method:GET") == ["user bob timed out"]
        assert msgs(topic="web", reverse=True, offset=1, size=1) == ["user bob timed out"]
        assert msgs(topic="other") == []
        resp = client.get_log(project, logstore, t - 5, t + 60, query="alice")
        log = resp.get_logs()[0]
        assert (log.get_time(), log.get_source()) == (t, "192.0.2.44")
        assert resp.get_count() == 1

        hist = client.get_histograms(GetHistogramsRequest(project, logstore, t - 5, t + 55, query="*"))
        assert hist.is_completed()
        assert sum(h.get_count() for h in hist.get_histograms()) == 3
        assert hist.get_total_count() == 3

        err = error_of(lambda: client.get_log(project, logstore, t - 5, t + 60, query="* | select count(*)"))
        assert_error(err, "ParameterInvalid", 400)
    finally:
        client.delete_logstore(project, logstore)


# ---------------------------------------------------------------------------------
# Deletion
# ---------------------------------------------------------------------------------

def test_delete_logstore(client, project):
    logstore = "ls-doomed"
    client.create_logstore(project, logstore, ttl=30, shard_count=2)
    spec = WriteSpec("doomed", hash_key="00", logs=[(int(time.time()), 1, [("k", "v")])])
    put_spec(client, project, logstore, spec)

    client.delete_logstore(project, logstore)
    assert_error(error_of(lambda: client.get_logstore(project, logstore)), "LogStoreNotExist", 404)
    assert_error(error_of(lambda: put_spec(client, project, logstore, spec)), "LogStoreNotExist", 404)
    assert_error(error_of(lambda: client.list_shards(project, logstore)), "LogStoreNotExist", 404)
    assert logstore not in client.list_logstore(project).get_logstores()

    # A new logstore of the same name starts empty.
    client.create_logstore(project, logstore, ttl=30, shard_count=2)
    assert pull_shards(client, project, logstore, [0, 1]) == {0: [], 1: []}
    client.delete_logstore(project, logstore)


def test_delete_project(client):
    doomed = unique_name("sdk-doomed")
    client.create_project(doomed, "to be deleted")
    client.create_logstore(doomed, "ls-x", ttl=30, shard_count=1)
    client.delete_logstore(doomed, "ls-x")
    client.delete_project(doomed)

    assert_error(error_of(lambda: client.get_project(doomed)), "ProjectNotExist", 404)
    assert doomed not in [p["projectName"] for p in client.list_project().get_projects()]
    assert_error(error_of(lambda: client.create_logstore(doomed, "ls-x", shard_count=1)), "ProjectNotExist", 404)
    spec = WriteSpec("gone", logs=[(int(time.time()), 1, [("k", "v")])])
    assert_error(error_of(lambda: put_spec(client, doomed, "ls-x", spec)), "ProjectNotExist", 404)


# ---------------------------------------------------------------------------------
# Restart: a second daemon on the same data dir serves the same catalog and data
# ---------------------------------------------------------------------------------

def test_data_survives_restart(tmp_path):
    workdir = str(tmp_path)
    first = start_daemon(workdir)
    try:
        sdk = make_client(first)
        name = unique_name("sdk-restart")
        sdk.create_project(name, "restart")
        sdk.create_logstore(name, "ls-keep", ttl=30, shard_count=2)
        now = int(time.time())
        for n, key in enumerate(["10", "c0", "20"]):
            put_spec(sdk, name, "ls-keep", WriteSpec(
                "keep-%d" % n, topic="keep", source="10.8.0.%d" % n, tags=[("n", str(n))], hash_key=key,
                logs=[(now - n, n + 1, [("k", "survives ü %d" % n)])]))
        sdk.split_shard(name, "ls-keep", 1, "c0000000000000000000000000000000")
        shards_before = shard_table(sdk, name, "ls-keep")
        data_before = pull_shards(sdk, name, "ls-keep", sorted(shards_before))
        end_before = sdk.get_cursor(name, "ls-keep", 0, "end").get_cursor()
    finally:
        stop_daemon(first)

    second = start_daemon(workdir)
    try:
        sdk = make_client(second)
        assert sdk.get_project(name).get_projectname() == name
        assert sdk.get_logstore(name, "ls-keep").get_ttl() == 30
        assert shard_table(sdk, name, "ls-keep") == shards_before
        assert pull_shards(sdk, name, "ls-keep", sorted(shards_before)) == data_before
        assert sum(len(groups) for groups in data_before.values()) == 3
        # Writing after the restart appends behind the old data, at the old end cursor.
        later = put_spec(sdk, name, "ls-keep", WriteSpec("after-restart", hash_key="30", logs=[(now, 9, [("k", "new")])]))
        assert pull_all(sdk, name, "ls-keep", 0, cursor=end_before) == [later]
        assert pull_all(sdk, name, "ls-keep", 0) == data_before[0] + [later]
    finally:
        stop_daemon(second)
