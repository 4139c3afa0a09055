"""Conformance of logtide's Huawei LTS API with the official Huawei Python SDK, end to end.

* Management reads go through the unmodified `huaweicloudsdklts` LtsClient (signed by
  `huaweicloudsdkcore`) pointed at the real daemon binary started by conftest.py.
* No SDK operation uploads logs, so uploads (`.../tenant/contents` and
  `.../tenant/contents/high-accuracy`) are signed by huaweicloudsdkcore's own signer
  (lts_support.sign: `BasicCredentials.sign_request`, i.e. `Signer.sign`) and sent byte
  for byte, or authenticated with `X-Auth-Token`.
* Everything uploaded is read back with the official aliyun-log-python-sdk (PullLogs over
  every shard): an LTS log group is an SLS project and a log stream an SLS logstore.

Protocol facts cited as lts.md §N are in shared/docs/protocols/lts.md.  Every error test
asserts that the rejected request stored nothing.
"""

import datetime
import gzip
import hashlib
import hmac
import time
import uuid

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdklts.v2 import ListLogGroupsRequest, ListLogStreamRequest

from lts_support import (
    ACCESS_KEY_ID,
    assert_report_error,
    assert_report_ok,
    assert_request_id,
    assert_stored_groups,
    contents_group,
    contents_path,
    describe,
    expected_group,
    json_body,
    make_lts_client,
    NS,
    OTHER_PROJECT_ID,
    parsed,
    post_signed,
    post_with_headers,
    PROJECT_ID,
    recent_base_ns,
    send,
    sign,
    stored_log_count,
    token_headers,
    TOKEN,
)

MIB = 1024 * 1024
MAX_BODY = 3 * MIB
MAX_LOGS = 4096
DAY_NS = 86400 * NS
MINUTE_NS = 60 * NS
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def _sdk_error(call):
    """Run an SDK call; return the ClientRequestException it raised (fail if it succeeded)."""
    try:
        call()
    except ClientRequestException as err:
        return err
    pytest.fail("expected a ClientRequestException, but the SDK call succeeded")


def _describe_sdk_error(err):
    return "HTTP %s error_code=%r error_msg=%r request_id=%r" % (
        err.status_code, err.error_code, err.error_msg, err.request_id)


def _assert_uuid(value):
    assert isinstance(value, str), value
    assert str(uuid.UUID(value)) == value, "%r is not a lower-case 36-char uuid" % value


def _assert_creation_time_ms(value):
    assert isinstance(value, int), value
    assert abs(value / 1000.0 - time.time()) < 3600, "creation_time %r is not 'now' in milliseconds" % value


# ---------------------------------------------------------------------------------
# The official signer itself (no daemon): pins the SDK version's behaviour
# ---------------------------------------------------------------------------------

VECTOR_PATH = "/v2/0123456789abcdef0123456789abcdef/groups"
VECTOR_KW = dict(ak="testak", sk="testsk", project_id=PROJECT_ID,
                 headers={"User-Agent": "test-agent"}, sdk_date="20240101T000000Z")
VECTOR_SIGNED_HEADERS = "content-type;host;user-agent;x-project-id;x-sdk-date"


def test_official_signer_reproduces_documented_get_vector():
    """lts.md §1.1 test vector: GET /v2/{pid}/groups signs to bfc2406d...6e70."""
    prepared = sign("127.0.0.1:8080", "GET", VECTOR_PATH, b"", **VECTOR_KW)
    assert prepared.headers["Authorization"] == (
        "SDK-HMAC-SHA256 Access=testak, SignedHeaders=%s, "
        "Signature=bfc2406d8ce0003dcf7b818734b4f9d38bfcf535761327000e4311bd58296e70" % VECTOR_SIGNED_HEADERS)
    assert prepared.headers["X-Project-Id"] == PROJECT_ID
    assert prepared.headers["Host"] == "127.0.0.1:8080"
    assert prepared.uri == VECTOR_PATH


def test_official_signer_reproduces_documented_post_vector():
    """lts.md §1.1 test vector: POST with a query and a JSON body signs to c8b34e16...dca1."""
    prepared = sign("127.0.0.1:8080", "POST", VECTOR_PATH, b'{"log_group_name": "g1", "ttl_in_days": 7}',
                    query=[("enterprise_project_id", "a b/c")], **VECTOR_KW)
    assert prepared.headers["Authorization"].endswith(
        "Signature=c8b34e160a8f29f50fcb12106217beb1f4fc47f9ef7fd0ff2a8e100caec0dca1")
    assert prepared.uri == VECTOR_PATH + "?enterprise_project_id=a%20b%2Fc"


def test_upload_signing_helper_matches_an_independent_signature():
    """The upload helper sends Content-Type, X-Project-Id, X-Sdk-Date, Host, Authorization and
    the exact bytes that were hashed: recompute the signature by hand (lts.md §1.1 steps)."""
    body = json_body({"log_time_ns": 1, "contents": ["é"], "labels": {}}, ascii_only=False)
    path = contents_path("g", "s")
    prepared = sign("127.0.0.1:9", "POST", path, body)
    assert set(prepared.headers) == {"Content-Type", "X-Project-Id", "X-Sdk-Date", "Host", "Authorization"}
    assert prepared.body == body
    h = prepared.headers
    canonical = "\n".join([
        "POST", path + "/", "",
        "content-type:application/json\nhost:127.0.0.1:9\nx-project-id:%s\nx-sdk-date:%s\n"
        % (PROJECT_ID, h["X-Sdk-Date"]),
        "content-type;host;x-project-id;x-sdk-date",
        hashlib.sha256(body).hexdigest(),
    ])
    string_to_sign = "SDK-HMAC-SHA256\n%s\n%s" % (h["X-Sdk-Date"], hashlib.sha256(canonical.encode()).hexdigest())
    signature = hmac.new(b"SECRETTEST", string_to_sign.encode(), hashlib.sha256).hexdigest()
    assert h["Authorization"] == (
        "SDK-HMAC-SHA256 Access=%s, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=%s"
        % (ACCESS_KEY_ID, signature))


# ---------------------------------------------------------------------------------
# Management API through huaweicloudsdklts
# ---------------------------------------------------------------------------------

def test_sdk_lists_log_groups_and_finds_the_sls_project(lts_client, group):
    """ListLogGroups lists the SLS project as a log group with a uuid id, a creation time in
    ms and an integer TTL; the id is stable across calls."""
    groups = lts_client.list_log_groups(ListLogGroupsRequest()).log_groups
    assert isinstance(groups, list), groups
    mine = [g for g in groups if g.log_group_name == group]
    assert len(mine) == 1, [g.log_group_name for g in groups]
    found = mine[0]
    _assert_uuid(found.log_group_id)
    _assert_creation_time_ms(found.creation_time)
    assert isinstance(found.ttl_in_days, int) and found.ttl_in_days > 0, found
    ids = [g.log_group_id for g in groups]
    assert len(set(ids)) == len(ids), "log_group_id values repeat: %r" % ids

    again = lts_client.list_log_groups(ListLogGroupsRequest()).log_groups
    assert [g.log_group_id for g in again if g.log_group_name == group] == [found.log_group_id]


def test_sdk_lists_log_streams_and_finds_the_sls_logstores(sls, lts_client, group, group_id):
    """ListLogStream of the group lists each SLS logstore as a log stream with its own uuid id,
    a creation time in ms and an integer TTL; the ids are stable across calls."""
    names = ["ls-list-a-" + uuid.uuid4().hex[:8], "ls-list-b-" + uuid.uuid4().hex[:8]]
    for name in names:
        sls.create_logstore(group, name, ttl=30, shard_count=2, append_meta=False)

    streams = lts_client.list_log_stream(ListLogStreamRequest(log_group_id=group_id)).log_streams
    assert isinstance(streams, list), streams
    by_name = {}
    for s in streams:
        assert s.log_stream_name not in by_name, "stream %r listed twice" % s.log_stream_name
        by_name[s.log_stream_name] = s
    for name in names:
        assert name in by_name, "logstore %s not listed: %r" % (name, sorted(by_name))
        s = by_name[name]
        _assert_uuid(s.log_stream_id)
        _assert_creation_time_ms(s.creation_time)
        assert isinstance(s.ttl_in_days, int) and s.ttl_in_days > 0, s
    assert by_name[names[0]].log_stream_id != by_name[names[1]].log_stream_id
    assert by_name[names[0]].log_stream_id != group_id

    again = lts_client.list_log_stream(ListLogStreamRequest(log_group_id=group_id)).log_streams
    assert {s.log_stream_name: s.log_stream_id for s in again if s.log_stream_name in names} == {
        name: by_name[name].log_stream_id for name in names}


def test_management_responses_carry_request_id_and_documented_json(daemon, group, group_id):
    """The raw signed GETs answer 200 JSON with the documented top-level keys and X-Request-Id."""
    resp = send(daemon, sign(daemon, "GET", "/v2/%s/groups" % PROJECT_ID))
    assert resp.status == 200, describe(resp)
    assert_request_id(resp)
    body = parsed(resp)
    assert [g["log_group_id"] for g in body["log_groups"] if g["log_group_name"] == group] == [group_id]

    resp = send(daemon, sign(daemon, "GET", "/v2/%s/groups/%s/streams" % (PROJECT_ID, group_id)))
    assert resp.status == 200, describe(resp)
    assert_request_id(resp)
    assert isinstance(parsed(resp)["log_streams"], list), describe(resp)


def test_sdk_list_log_stream_of_unknown_group_is_lts_0201(lts_client):
    """ListLogStream with a well-formed but unknown group id: ClientRequestException 400 LTS.0201."""
    err = _sdk_error(lambda: lts_client.list_log_stream(ListLogStreamRequest(log_group_id=str(uuid.uuid4()))))
    assert (err.status_code, err.error_code) == (400, "LTS.0201"), _describe_sdk_error(err)
    assert err.request_id, _describe_sdk_error(err)


@pytest.mark.parametrize("ak, sk", [(ACCESS_KEY_ID, "WRONG-SECRET"), ("AKIDUNKNOWN", "SECRETTEST")],
                         ids=["wrong-secret", "unknown-ak"])
def test_sdk_bad_signature_is_apigw_0301(daemon, ak, sk):
    """An SDK client with a wrong secret or an unknown AK: 401 APIGW.0301."""
    client = make_lts_client(daemon, ak=ak, sk=sk)
    err = _sdk_error(lambda: client.list_log_groups(ListLogGroupsRequest()))
    assert (err.status_code, err.error_code) == (401, "APIGW.0301"), _describe_sdk_error(err)
    assert err.request_id, _describe_sdk_error(err)


def test_sdk_project_not_allowed_for_key_is_lts_0001(daemon):
    """A project id outside the key's project_ids: 403 LTS.0001 (the API reference's example), in the management dialect."""
    client = make_lts_client(daemon, project_id=OTHER_PROJECT_ID)
    err = _sdk_error(lambda: client.list_log_groups(ListLogGroupsRequest()))
    assert (err.status_code, err.error_code) == (403, "LTS.0001"), _describe_sdk_error(err)
    assert err.request_id, _describe_sdk_error(err)

    resp = send(daemon, sign(daemon, "GET", "/v2/%s/groups" % OTHER_PROJECT_ID, project_id=OTHER_PROJECT_ID))
    body = parsed(resp)
    assert resp.status == 403 and body.get("error_code") == "LTS.0001", describe(resp)
    assert isinstance(body.get("error_msg"), str), describe(resp)


# ---------------------------------------------------------------------------------
# Accepted uploads, read back through SLS
# ---------------------------------------------------------------------------------

def test_signed_upload_by_ids_stores_lines_times_and_labels(daemon, sls, stream):
    """tenant/contents by group/stream ids: one LogGroup, one log per line with the single
    field `content`, log i at log_time_ns + i ns (here crossing a second boundary), labels
    as LogTags in the order sent, empty topic and source."""
    base = recent_base_ns(nanos=NS - 2)
    lines = ["first line", "second line", "third line", "fourth"]
    labels = {"hostName": "web-1", "app": "checkout", "a-third": "3"}
    resp = post_signed(daemon, contents_path(stream.group_id, stream.id),
                       json_body({"log_time_ns": base, "contents": lines, "labels": labels}))
    assert_report_ok(resp)
    want = contents_group(labels, base, lines)
    assert [r.time for r in want.logs] == [base // NS, base // NS, base // NS + 1, base // NS + 1]
    assert_stored_groups(sls, stream, [want])


def test_signed_upload_by_names_stores_the_same(daemon, sls, stream):
    """The group/stream path segments may be the SLS project and logstore names (logtide
    extension); the optional tenant_project_id is accepted."""
    base = recent_base_ns(nanos=5)
    lines = ["by name 1", "by name 2"]
    labels = {"via": "names"}
    resp = post_signed(daemon, contents_path(stream.group_name, stream.name),
                       json_body({"log_time_ns": base, "contents": lines, "labels": labels,
                                  "tenant_project_id": PROJECT_ID}))
    assert_report_ok(resp)
    assert_stored_groups(sls, stream, [contents_group(labels, base, lines)])


def test_token_upload_stores_the_same(daemon, sls, stream):
    """X-Auth-Token (the configured token) instead of a signature, no Authorization header,
    Content-Type application/json;charset=UTF-8 as in the LTS docs."""
    base = recent_base_ns(nanos=999)
    lines = ["token line"]
    labels = {"auth": "token"}
    resp = post_with_headers(daemon, contents_path(stream.group_id, stream.id),
                             json_body({"log_time_ns": base, "contents": lines, "labels": labels}),
                             token_headers(TOKEN))
    assert_report_ok(resp)
    assert_stored_groups(sls, stream, [contents_group(labels, base, lines)])


def test_log_time_ns_may_be_a_string(daemon, sls, stream):
    """log_time_ns given as a JSON string of digits (as in the LTS doc examples); empty
    labels store no tags."""
    base = recent_base_ns(nanos=42)
    lines = ["string time 1", "string time 2", "string time 3"]
    resp = post_signed(daemon, contents_path(stream.group_id, stream.id),
                       json_body({"log_time_ns": str(base), "contents": lines, "labels": {}}))
    assert_report_ok(resp)
    assert_stored_groups(sls, stream, [contents_group({}, base, lines)])


def test_high_accuracy_stores_each_log_at_its_own_time(daemon, sls, stream):
    """high-accuracy: every entry carries its own log_time_ns (integer or string, in any
    order); each is stored at exactly that time, in the order sent."""
    t0 = recent_base_ns(seconds_ago=300, nanos=1)
    entries = [(t0 + 7 * NS + 500, "ha third-in-time"), (t0, "ha first-in-time"),
               (t0 + 2 * NS + 999_999_999, "ha second-in-time")]
    labels = {"mode": "high-accuracy", "zone": "z1"}
    body = {"contents": [{"log_time_ns": t if i != 1 else str(t), "log": text} for i, (t, text) in enumerate(entries)],
            "labels": labels}
    resp = post_signed(daemon, contents_path(stream.group_id, stream.id, high_accuracy=True), json_body(body))
    assert_report_ok(resp)
    assert_stored_groups(sls, stream, [expected_group(labels, entries)])


@pytest.mark.parametrize("auth", ["signed", "token"])
def test_high_accuracy_gzip_body(daemon, sls, stream, auth):
    """high-accuracy with `Content-Encoding: gzip`: the body is the gzip of the JSON (signed
    as sent, i.e. the compressed bytes are what the signature hashes)."""
    t0 = recent_base_ns(nanos=77)
    entries = [(t0, "gzip one"), (t0 + 1500, "gzip two"), (t0 + NS, "gzip three " + "x" * 2000)]
    labels = {"encoding": "gzip", "auth": auth}
    raw = json_body({"contents": [{"log_time_ns": t, "log": text} for t, text in entries], "labels": labels})
    body = gzip.compress(raw)
    path = contents_path(stream.group_id, stream.id, high_accuracy=True)
    if auth == "signed":
        resp = post_signed(daemon, path, body, headers={"Content-Encoding": "gzip"})
    else:
        resp = post_with_headers(daemon, path, body, dict(token_headers(TOKEN), **{"Content-Encoding": "gzip"}))
    assert_report_ok(resp)
    assert_stored_groups(sls, stream, [expected_group(labels, entries)])


def test_multiline_and_non_ascii_text_round_trips_exactly(daemon, sls, stream):
    """Entries with newlines, tabs, CR, quotes, backslashes and non-ASCII UTF-8 (incl. an astral
    emoji) come back byte-identical, whether sent as raw UTF-8 or as JSON \\u escapes; each
    request is its own LogGroup."""
    lines = [
        "multi-line entry\nsecond line\r\n\tindented third line\n",
        "日本語のログ — ünïcödé ✓ 🚀 Ωmega",
        'quote " backslash \\ slash / nul-free',
        "",
    ]
    base_raw = recent_base_ns(nanos=10)
    base_esc = recent_base_ns(seconds_ago=61, nanos=20)
    labels_raw = {"encoding": "raw-utf8", "city": "Zürich 東京"}
    labels_esc = {"encoding": "json-escapes", "city": "Zürich 東京"}
    path = contents_path(stream.group_id, stream.id)
    assert_report_ok(post_signed(daemon, path, json_body(
        {"log_time_ns": base_raw, "contents": lines, "labels": labels_raw}, ascii_only=False)))
    escaped = json_body({"log_time_ns": base_esc, "contents": lines, "labels": labels_esc}, ascii_only=True)
    assert b"\\ud83d\\ude80" in escaped  # the emoji travels as a surrogate pair
    assert_report_ok(post_signed(daemon, path, escaped))
    assert_stored_groups(sls, stream, [contents_group(labels_raw, base_raw, lines),
                                       contents_group(labels_esc, base_esc, lines)])


def test_times_inside_the_window_edges_are_accepted(daemon, sls, stream):
    """[now − 7 days, now + 15 min] is accepted: 6 days ago and 10 minutes ahead are stored."""
    old = recent_base_ns(seconds_ago=6 * 86400, nanos=1)
    ahead = recent_base_ns(seconds_ago=-600, nanos=2)
    path = contents_path(stream.group_id, stream.id)
    assert_report_ok(post_signed(daemon, path, json_body(
        {"log_time_ns": old, "contents": ["six days old"], "labels": {"when": "old"}})))
    assert_report_ok(post_signed(daemon, path, json_body(
        {"log_time_ns": ahead, "contents": ["ten minutes ahead"], "labels": {"when": "ahead"}})))
    assert_stored_groups(sls, stream, [contents_group({"when": "old"}, old, ["six days old"]),
                                       contents_group({"when": "ahead"}, ahead, ["ten minutes ahead"])])


def test_exactly_4096_logs_are_accepted(daemon, sls, stream):
    """4096 lines in one request (the maximum) are one LogGroup of 4096 logs."""
    base = recent_base_ns(nanos=0)
    lines = ["line %04d" % i for i in range(MAX_LOGS)]
    assert_report_ok(post_signed(daemon, contents_path(stream.group_id, stream.id),
                                 json_body({"log_time_ns": base, "contents": lines, "labels": {"n": "4096"}})))
    assert_stored_groups(sls, stream, [contents_group({"n": "4096"}, base, lines)])


def test_body_of_exactly_3_mib_is_accepted(daemon, sls, stream):
    """A raw body of exactly 3 MiB (the limit is 'over 3 MiB') is accepted."""
    base = recent_base_ns(nanos=3)
    lines = ["a" * (64 * 1024) for _ in range(47)]
    body = json_body({"log_time_ns": base, "contents": lines + [""], "labels": {"size": "3MiB"}})
    lines.append("b" * (MAX_BODY - len(body)))
    body = json_body({"log_time_ns": base, "contents": lines, "labels": {"size": "3MiB"}})
    assert len(body) == MAX_BODY
    assert_report_ok(post_signed(daemon, contents_path(stream.group_id, stream.id), body))
    assert_stored_groups(sls, stream, [contents_group({"size": "3MiB"}, base, lines)])


# ---------------------------------------------------------------------------------
# Rejected uploads: the LTS report error dialect, and nothing stored
# ---------------------------------------------------------------------------------

class NothingStored:
    """Context manager: the error stream holds as many logs after the block as before it."""

    def __init__(self, sls, stream):
        self.sls, self.stream = sls, stream

    def __enter__(self):
        self.before = stored_log_count(self.sls, self.stream)
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            after = stored_log_count(self.sls, self.stream)
            assert after == self.before, "a rejected request stored %d log(s)" % (after - self.before)
        return False


def _valid_body(lines=("must not be stored",)):
    return json_body({"log_time_ns": recent_base_ns(), "contents": list(lines), "labels": {"k": "v"}})


def _sdk_date(offset_seconds):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (now + datetime.timedelta(seconds=offset_seconds)).strftime(SDK_DATE_FORMAT)


def test_body_altered_after_signing_is_apigw_0301(daemon, sls, error_stream):
    """The signature covers the body hash: sending other bytes than were signed is 401 APIGW.0301."""
    path = contents_path(error_stream.group_id, error_stream.id)
    prepared = sign(daemon, "POST", path, _valid_body(["signed line"]))
    tampered = prepared._replace(body=prepared.body.replace(b"signed line", b"forged line"))
    assert tampered.body != prepared.body
    with NothingStored(sls, error_stream):
        assert_report_error(send(daemon, tampered), 401, "APIGW.0301")


@pytest.mark.parametrize("ak, sk", [(ACCESS_KEY_ID, "WRONG-SECRET"), ("AKIDUNKNOWN", "SECRETTEST")],
                         ids=["wrong-secret", "unknown-ak"])
def test_wrong_secret_or_unknown_ak_is_apigw_0301(daemon, sls, error_stream, ak, sk):
    with NothingStored(sls, error_stream):
        resp = post_signed(daemon, contents_path(error_stream.group_id, error_stream.id), _valid_body(), ak=ak, sk=sk)
        assert_report_error(resp, 401, "APIGW.0301")


def test_no_authorization_and_no_token_is_apigw_0301(daemon, sls, error_stream):
    with NothingStored(sls, error_stream):
        resp = post_with_headers(daemon, contents_path(error_stream.group_id, error_stream.id), _valid_body(),
                                 {"Content-Type": "application/json"})
        assert_report_error(resp, 401, "APIGW.0301")


@pytest.mark.parametrize("offset_minutes", [-20, 20], ids=["20-min-old", "20-min-ahead"])
def test_x_sdk_date_more_than_15_minutes_off_is_apigw_0303(daemon, sls, error_stream, offset_minutes):
    """A correctly signed request whose X-Sdk-Date is 20 minutes from now: 401 APIGW.0303."""
    with NothingStored(sls, error_stream):
        resp = post_signed(daemon, contents_path(error_stream.group_id, error_stream.id), _valid_body(),
                           sdk_date=_sdk_date(offset_minutes * 60))
        assert_report_error(resp, 401, "APIGW.0303")


def test_unknown_token_is_lts_0003(daemon, sls, error_stream):
    with NothingStored(sls, error_stream):
        resp = post_with_headers(daemon, contents_path(error_stream.group_id, error_stream.id), _valid_body(),
                                 token_headers(TOKEN + "-not-it"))
        assert_report_error(resp, 401, "LTS.0003")


def test_token_for_another_project_is_svcstg_als_403_105(daemon, sls, error_stream):
    """The URL's project id is not the token's project id: 401 SVCSTG.ALS.403.105."""
    with NothingStored(sls, error_stream):
        resp = post_with_headers(
            daemon, contents_path(error_stream.group_id, error_stream.id, project_id=OTHER_PROJECT_ID),
            _valid_body(), token_headers(TOKEN))
        assert_report_error(resp, 401, "SVCSTG.ALS.403.105")


def test_key_for_another_project_is_svcstg_als_403_105(daemon, sls, error_stream):
    """A valid signature, but the URL's project id is not among the key's project_ids."""
    with NothingStored(sls, error_stream):
        resp = post_signed(daemon, contents_path(error_stream.group_id, error_stream.id, project_id=OTHER_PROJECT_ID),
                           _valid_body(), project_id=OTHER_PROJECT_ID)
        assert_report_error(resp, 401, "SVCSTG.ALS.403.105")


@pytest.mark.parametrize("high_accuracy", [False, True], ids=["contents", "high-accuracy"])
def test_unknown_log_group_id_is_lts_0201(daemon, sls, error_stream, high_accuracy):
    body = _valid_body() if not high_accuracy else json_body(
        {"contents": [{"log_time_ns": recent_base_ns(), "log": "x"}], "labels": {}})
    with NothingStored(sls, error_stream):
        resp = post_signed(daemon, contents_path(str(uuid.uuid4()), error_stream.id, high_accuracy=high_accuracy), body)
        assert_report_error(resp, 400, "LTS.0201")


@pytest.mark.parametrize("high_accuracy", [False, True], ids=["contents", "high-accuracy"])
def test_unknown_log_stream_id_is_lts_0208(daemon, sls, error_stream, high_accuracy):
    body = _valid_body() if not high_accuracy else json_body(
        {"contents": [{"log_time_ns": recent_base_ns(), "log": "x"}], "labels": {}})
    with NothingStored(sls, error_stream):
        resp = post_signed(daemon, contents_path(error_stream.group_id, str(uuid.uuid4()), high_accuracy=high_accuracy),
                           body)
        assert_report_error(resp, 400, "LTS.0208")


def _b(template, *args):
    """Literal JSON bytes from a %-template (for bodies json.dumps cannot produce)."""
    return (template % args).encode("utf-8") if isinstance(template, str) else template % args


# id -> body(t) for tenant/contents requests that must be 400 SVCSTG.ALS.200.201; t is a
# valid log_time_ns taken when the test runs, so that only the named defect is wrong.
CONTENTS_BAD = {
    "malformed-json": lambda t: _b('{"log_time_ns": %d, "contents": ["x"', t),
    "empty-body": lambda t: b"",
    "not-an-object": lambda t: b'["x"]',
    "contents-missing": lambda t: _b('{"log_time_ns": %d, "labels": {"k": "v"}}', t),
    "contents-a-string": lambda t: _b('{"log_time_ns": %d, "contents": "x", "labels": {"k": "v"}}', t),
    "contents-numbers": lambda t: _b('{"log_time_ns": %d, "contents": [1, 2], "labels": {"k": "v"}}', t),
    "contents-with-null": lambda t: _b('{"log_time_ns": %d, "contents": ["x", null], "labels": {"k": "v"}}', t),
    "contents-object": lambda t: _b('{"log_time_ns": %d, "contents": {"a": "b"}, "labels": {"k": "v"}}', t),
    "time-missing": lambda t: b'{"contents": ["x"], "labels": {"k": "v"}}',
    "time-fraction": lambda t: _b('{"log_time_ns": %d.5, "contents": ["x"], "labels": {"k": "v"}}', t),
    "time-letters": lambda t: _b('{"log_time_ns": "%dabc", "contents": ["x"], "labels": {"k": "v"}}', t),
    "time-bool": lambda t: b'{"log_time_ns": true, "contents": ["x"], "labels": {"k": "v"}}',
    "time-null": lambda t: b'{"log_time_ns": null, "contents": ["x"], "labels": {"k": "v"}}',
    "time-huge": lambda t: b'{"log_time_ns": 99999999999999999999999999, "contents": ["x"], "labels": {}}',
    "labels-array": lambda t: _b('{"log_time_ns": %d, "contents": ["x"], "labels": ["k"]}', t),
    "labels-number-value": lambda t: _b('{"log_time_ns": %d, "contents": ["x"], "labels": {"k": 1}}', t),
    "labels-null-value": lambda t: _b('{"log_time_ns": %d, "contents": ["x"], "labels": {"k": null}}', t),
    "labels-nested": lambda t: _b('{"log_time_ns": %d, "contents": ["x"], "labels": {"k": {"n": "v"}}}', t),
    "time-8-days-old": lambda t: json_body({"log_time_ns": t - 8 * DAY_NS, "contents": ["x"], "labels": {}}),
    "time-8-days-old-string": lambda t: json_body(
        {"log_time_ns": str(t - 8 * DAY_NS), "contents": ["x"], "labels": {}}),
    "time-1-hour-ahead": lambda t: json_body({"log_time_ns": t + 61 * MINUTE_NS, "contents": ["x"], "labels": {}}),
    "non-utf8-bytes": lambda t: _b(b'{"log_time_ns": %d, "contents": ["bad \xff\xfe byte"], "labels": {}}', t),
    "4097-logs": lambda t: json_body(
        {"log_time_ns": t, "contents": ["l%d" % i for i in range(MAX_LOGS + 1)], "labels": {}}),
    "over-3-mib": lambda t: json_body({"log_time_ns": t, "contents": ["a" * MIB] * 3, "labels": {}}),
}


def _ha(contents, labels=None):
    return json_body({"contents": contents, "labels": {"k": "v"} if labels is None else labels})


# The same for high-accuracy bodies.
HIGH_ACCURACY_BAD = {
    "malformed-json": lambda t: _b('{"contents": [{"log_time_ns": %d, "log": "x"}', t),
    "contents-missing": lambda t: json_body({"labels": {}}),
    "contents-an-object": lambda t: _ha({"log_time_ns": t, "log": "x"}),
    "entry-a-string": lambda t: _ha(["x"]),
    "entry-without-time": lambda t: _ha([{"log": "x"}]),
    "entry-without-log": lambda t: _ha([{"log_time_ns": t}]),
    "entry-log-a-number": lambda t: _ha([{"log_time_ns": t, "log": 5}]),
    "entry-time-fraction": lambda t: _b('{"contents": [{"log_time_ns": %d.5, "log": "x"}], "labels": {}}', t),
    "entry-time-letters": lambda t: _ha([{"log_time_ns": "soon", "log": "x"}]),
    "labels-number-value": lambda t: _ha([{"log_time_ns": t, "log": "x"}], labels={"k": 1}),
    "one-entry-8-days-old": lambda t: _ha([{"log_time_ns": t, "log": "fine"},
                                           {"log_time_ns": t - 8 * DAY_NS, "log": "too old"}]),
    "one-entry-1-hour-ahead": lambda t: _ha([{"log_time_ns": t, "log": "fine"},
                                             {"log_time_ns": t + 61 * MINUTE_NS, "log": "too new"}]),
    "non-utf8-bytes": lambda t: _b(b'{"contents": [{"log_time_ns": %d, "log": "bad \xff"}], "labels": {}}', t),
    "4097-logs": lambda t: _ha([{"log_time_ns": t + i, "log": "l"} for i in range(MAX_LOGS + 1)]),
    "over-3-mib": lambda t: _ha([{"log_time_ns": t, "log": "a" * MIB}] * 3),
}


@pytest.mark.parametrize("case", sorted(CONTENTS_BAD))
def test_invalid_contents_report_is_svcstg_als_200_201(daemon, sls, error_stream, case):
    """tenant/contents bodies that are malformed, mistyped, out of the time window
    [now − 7 d, now + 15 min], not UTF-8, over 4096 logs or over 3 MiB: 400
    SVCSTG.ALS.200.201 (correctly signed, so only the body is at fault)."""
    body = CONTENTS_BAD[case](recent_base_ns())
    if case == "over-3-mib":
        assert len(body) > MAX_BODY
    with NothingStored(sls, error_stream):
        resp = post_signed(daemon, contents_path(error_stream.group_id, error_stream.id), body)
        assert_report_error(resp, 400, "SVCSTG.ALS.200.201")


@pytest.mark.parametrize("case", sorted(HIGH_ACCURACY_BAD))
def test_invalid_high_accuracy_report_is_svcstg_als_200_201(daemon, sls, error_stream, case):
    """The same rules for high-accuracy bodies; one bad entry rejects the whole request."""
    body = HIGH_ACCURACY_BAD[case](recent_base_ns())
    if case == "over-3-mib":
        assert len(body) > MAX_BODY
    with NothingStored(sls, error_stream):
        resp = post_signed(daemon, contents_path(error_stream.group_id, error_stream.id, high_accuracy=True), body)
        assert_report_error(resp, 400, "SVCSTG.ALS.200.201")


def test_invalid_report_by_token_is_also_rejected(daemon, sls, error_stream):
    """Token auth does not bypass body validation: a time 8 days old is 400 SVCSTG.ALS.200.201."""
    body = json_body({"log_time_ns": recent_base_ns() - 8 * DAY_NS, "contents": ["x"], "labels": {}})
    with NothingStored(sls, error_stream):
        resp = post_with_headers(daemon, contents_path(error_stream.group_id, error_stream.id), body,
                                 token_headers(TOKEN))
        assert_report_error(resp, 400, "SVCSTG.ALS.200.201")


def test_error_stream_is_still_empty(sls, error_stream):
    """Belt and braces after all the error tests of this module: the shared error stream,
    pulled from every shard, holds no log at all."""
    assert stored_log_count(sls, error_stream) == 0
