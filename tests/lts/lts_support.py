"""Helpers for the LTS conformance suite: requests signed by the official
huaweicloudsdkcore signer and sent byte for byte, and reading uploads back through the
official SLS SDK (an LTS log group is an SLS project, a log stream an SLS logstore).

Signing (lts.md §1.1): an `SdkRequest` carrying Content-Type (plus any extra header) and
the exact body bytes is passed to `BasicCredentials(ak, sk, project_id).sign_request()`,
the very call LtsClient makes for every operation: it adds `X-Project-Id`, then the
core's `Signer` adds `X-Sdk-Date` (unless one is given), `Host` and `Authorization`.
The resulting header map and body are then sent verbatim with http.client (which adds
only Content-Length and, when absent, Accept-Encoding: identity; neither is signed).
"""

import collections
import http.client
import importlib.util
import json
import os
import secrets
import time
import uuid

# lts.md §2: requests (under huaweicloudsdkcore) honours HTTP(S)_PROXY; never proxy loopback.
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
os.environ["no_proxy"] = "127.0.0.1,localhost"

import pytest  # noqa: E402
from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, ServiceResponseException  # noqa: E402
from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: E402
from huaweicloudsdkcore.sdk_request import SdkRequest  # noqa: E402
from huaweicloudsdklts.v2 import ListLogGroupsRequest, ListLogStreamRequest, LtsClient  # noqa: E402

# tests/sdk/conftest.py (daemon start/stop, SLS client), under a module name of its own.
_SLS_CONFTEST_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sdk", "conftest.py")
_spec = importlib.util.spec_from_file_location("logtide_sls_sdk_conftest", _SLS_CONFTEST_PATH)
sls_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sls_conftest)

ACCESS_KEY_ID = sls_conftest.ACCESS_KEY_ID  # "AKIDTEST"
ACCESS_KEY_SECRET = sls_conftest.ACCESS_KEY_SECRET  # "SECRETTEST"
PROJECT_ID = "0123456789abcdef0123456789abcdef"  # the only LTS project id the key and the token may use
OTHER_PROJECT_ID = "fedcba9876543210fedcba9876543210"  # well-formed, allowed for nobody
# The token is fresh for every session: nothing outside this run can know it.
TOKEN = "tok-" + secrets.token_hex(48)
SDK_TIMEOUT = (10, 30)  # (connect, read) seconds for the Huawei SDK client

Stream = collections.namedtuple("Stream", "group_name group_id name id")

HTTP_TIMEOUT_SECONDS = 60
NS = 10 ** 9
REPORT_OK = {"errorCode": "SVCSTG.ALS.200.200", "error_msg": "Report success.", "result": None}
PULL_PAGE = 10
MAX_PAGES = 1000

Prepared = collections.namedtuple("Prepared", "method uri headers body")
Response = collections.namedtuple("Response", "status headers body")
Group = collections.namedtuple("Group", "topic source tags logs")
LogRecord = collections.namedtuple("LogRecord", "time time_ns contents")


# ---------------------------------------------------------------------------------
# Clients, log groups and log streams
# ---------------------------------------------------------------------------------

def make_lts_client(daemon, ak=ACCESS_KEY_ID, sk=ACCESS_KEY_SECRET, project_id=PROJECT_ID):
    """huaweicloudsdklts LtsClient for http://127.0.0.1:PORT (lts.md §2: endpoint with scheme, no region)."""
    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    config.timeout = SDK_TIMEOUT
    credentials = BasicCredentials(ak, sk, project_id)
    return (
        LtsClient.new_builder()
        .with_http_config(config)
        .with_credentials(credentials)
        .with_endpoint(daemon.base_url)
        .build()
    )


def unique_name(prefix):
    return sls_conftest.unique_name(prefix)


def find_group_id(lts_client, group_name):
    """The log_group_id that ListLogGroups reports for the SLS project group_name."""
    groups = lts_client.list_log_groups(ListLogGroupsRequest()).log_groups or []
    matches = [g for g in groups if g.log_group_name == group_name]
    assert len(matches) == 1, "ListLogGroups lists %r %d times: %r" % (
        group_name, len(matches), [g.log_group_name for g in groups])
    return matches[0].log_group_id


def find_stream_id(lts_client, group_id, stream_name):
    """The log_stream_id that ListLogStream reports for the SLS logstore stream_name."""
    streams = lts_client.list_log_stream(ListLogStreamRequest(log_group_id=group_id)).log_streams or []
    matches = [s for s in streams if s.log_stream_name == stream_name]
    assert len(matches) == 1, "ListLogStream lists %r %d times: %r" % (
        stream_name, len(matches), [s.log_stream_name for s in streams])
    return matches[0].log_stream_id


def create_stream(sls, lts_client, group, group_id, prefix="ls"):
    """A new 2-shard logstore (= LTS log stream) in group, with its LTS id."""
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:12])
    sls.create_logstore(group, name, ttl=30, shard_count=2, append_meta=False)
    return Stream(group, group_id, name, find_stream_id(lts_client, group_id, name))


# ---------------------------------------------------------------------------------
# Paths and bodies
# ---------------------------------------------------------------------------------

def contents_path(group, stream, project_id=PROJECT_ID, high_accuracy=False):
    """POST path of a report; group/stream are ids or (logtide extension) names."""
    path = "/v2/%s/lts/groups/%s/streams/%s/tenant/contents" % (project_id, group, stream)
    return path + "/high-accuracy" if high_accuracy else path


def json_body(obj, ascii_only=True):
    """The JSON bytes of obj; ascii_only=False sends non-ASCII text as raw UTF-8."""
    return json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8")


def recent_base_ns(seconds_ago=60, nanos=123456789):
    """A log_time_ns some seconds before now, with a chosen nanosecond part."""
    return (time.time_ns() // NS - seconds_ago) * NS + nanos


# ---------------------------------------------------------------------------------
# Signing and sending
# ---------------------------------------------------------------------------------

def sign(daemon_or_host, method, path, body=b"", *, ak=ACCESS_KEY_ID, sk=ACCESS_KEY_SECRET,
         project_id=PROJECT_ID, headers=None, sdk_date=None, query=None):
    """A request signed by huaweicloudsdkcore (SDK-HMAC-SHA256), ready to send verbatim.

    daemon_or_host: the daemon (Host = 127.0.0.1:PORT) or a literal host string.
    headers: extra headers to sign (e.g. Content-Encoding); sdk_date forces X-Sdk-Date.
    """
    host = daemon_or_host if isinstance(daemon_or_host, str) else "127.0.0.1:%d" % daemon_or_host.port
    header_params = {"Content-Type": "application/json"}
    header_params.update(headers or {})
    if sdk_date is not None:
        header_params["X-Sdk-Date"] = sdk_date
    request = SdkRequest(
        method=method,
        schema="http",
        host=host,
        resource_path=path,
        query_params=list(query or []),
        header_params=header_params,
        body=body,
    )
    signed = BasicCredentials(ak, sk, project_id).sign_request(request)
    assert "Authorization" in signed.header_params, signed.header_params
    return Prepared(method, signed.uri, dict(signed.header_params), signed.body or b"")


def send(daemon, prepared):
    """Send a Prepared request with exactly its headers and body; return the Response."""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=HTTP_TIMEOUT_SECONDS)
    try:
        conn.request(prepared.method, prepared.uri, body=prepared.body, headers=prepared.headers)
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def post_signed(daemon, path, body, **sign_kwargs):
    return send(daemon, sign(daemon, "POST", path, body, **sign_kwargs))


def post_with_headers(daemon, path, body, headers):
    """An unsigned POST carrying exactly headers (Host is added by http.client)."""
    return send(daemon, Prepared("POST", path, dict(headers), body))


def token_headers(token):
    return {"Content-Type": "application/json;charset=UTF-8", "X-Auth-Token": token}


# ---------------------------------------------------------------------------------
# Response checks
# ---------------------------------------------------------------------------------

def describe(resp):
    return "HTTP %d, headers %r, body %r" % (resp.status, resp.headers, resp.body[:2000])


def parsed(resp):
    try:
        return json.loads(resp.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        pytest.fail("response body is not JSON: %s" % describe(resp))


def assert_request_id(resp):
    assert resp.headers.get("x-request-id"), "no X-Request-Id header: %s" % describe(resp)


def assert_report_ok(resp):
    """HTTP 200 with exactly the documented success body."""
    assert resp.status == 200, describe(resp)
    assert_request_id(resp)
    assert parsed(resp) == REPORT_OK, describe(resp)


def assert_report_error(resp, status, code):
    """The report dialect error: HTTP status, {"errorCode": code, "error_msg": str, "result": null}."""
    body = parsed(resp)
    got_code = body.get("errorCode") if isinstance(body, dict) else None
    assert (resp.status, got_code) == (status, code), describe(resp)
    assert set(body) == {"errorCode", "error_msg", "result"}, describe(resp)
    assert body["result"] is None, describe(resp)
    assert isinstance(body["error_msg"], str) and body["error_msg"], describe(resp)
    assert_request_id(resp)


def sdk_error(call):
    """Run an SDK call; return the service error it raised (fail if it succeeded).

    Server errors (5xx, ServerResponseException) are returned too, so that
    assert_sdk_error can report them with their code instead of a bare traceback."""
    try:
        result = call()
    except ServiceResponseException as err:
        return err
    pytest.fail("expected the SDK call to fail, but it succeeded: %r" % (result,))


def describe_sdk_error(err):
    return "%s: HTTP %s error_code=%r error_msg=%r request_id=%r" % (
        type(err).__name__, err.status_code, err.error_code, err.error_msg, err.request_id)


def assert_sdk_error(err, status, code):
    """A ClientRequestException with the given HTTP status and error_code, a non-empty
    error_msg and a non-empty request_id (the SDK takes it from X-Request-Id, lts.md §4.2)."""
    assert isinstance(err, ClientRequestException), describe_sdk_error(err)
    assert (err.status_code, err.error_code) == (status, code), describe_sdk_error(err)
    assert isinstance(err.error_msg, str) and err.error_msg.strip(), describe_sdk_error(err)
    assert isinstance(err.request_id, str) and err.request_id.strip(), describe_sdk_error(err)


# ---------------------------------------------------------------------------------
# Reading back through SLS
# ---------------------------------------------------------------------------------

def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


def normalize_pulled(log_group):
    return Group(
        topic=_text(log_group.Topic),
        source=_text(log_group.Source),
        tags=tuple((_text(t.Key), _text(t.Value)) for t in log_group.LogTags),
        logs=tuple(
            LogRecord(log.Time, log.Time_ns, tuple((_text(c.Key), _text(c.Value)) for c in log.Contents))
            for log in log_group.Logs
        ),
    )


def shard_ids(sls, project, logstore):
    return sorted(s["shardID"] for s in sls.list_shards(project, logstore).get_shards_info())


def pull_shard(sls, project, logstore, shard):
    """Every LogGroup of one shard, from the begin cursor until a pull returns none."""
    cursor = sls.get_cursor(project, logstore, shard, "begin").get_cursor()
    groups = []
    for _ in range(MAX_PAGES):
        resp = sls.pull_logs(project, logstore, shard, cursor, count=PULL_PAGE)
        pulled = list(resp.get_loggroup_list().LogGroups)
        if not pulled:
            return groups
        groups.extend(normalize_pulled(g) for g in pulled)
        cursor = resp.get_next_cursor()
    pytest.fail("shard %d of %s never ran out of data after %d pulls" % (shard, logstore, MAX_PAGES))


def pull_stream(sls, stream):
    """All LogGroups stored in a stream (every shard; shard order, then write order)."""
    shards = shard_ids(sls, stream.group_name, stream.name)
    assert shards, "logstore %s has no shards" % stream.name
    groups = []
    for shard in shards:
        groups.extend(pull_shard(sls, stream.group_name, stream.name, shard))
    return groups


def stored_log_count(sls, stream):
    return sum(len(g.logs) for g in pull_stream(sls, stream))


def expected_group(labels, logs):
    """What one accepted report must look like when pulled: logs = [(time_ns, text), ...]."""
    return Group(
        topic="",
        source="",
        tags=tuple(labels.items()),
        logs=tuple(LogRecord(t // NS, t % NS, (("content", text),)) for t, text in logs),
    )


def contents_group(labels, base_ns, lines):
    """tenant/contents: log i is at base_ns + i nanoseconds."""
    return expected_group(labels, [(base_ns + i, line) for i, line in enumerate(lines)])


def group_diff(want, got):
    lines = []
    for field in ("topic", "source", "tags"):
        if getattr(want, field) != getattr(got, field):
            lines.append("%s: sent %r, pulled %r" % (field, getattr(want, field), getattr(got, field)))
    if len(want.logs) != len(got.logs):
        lines.append("log count: sent %d, pulled %d" % (len(want.logs), len(got.logs)))
    for index, (w, g) in enumerate(zip(want.logs, got.logs)):
        if w != g:
            lines.append("log %d: expected %r, pulled %r" % (index, w, g))
        if len(lines) > 12:
            lines.append("...")
            break
    return "\n".join(lines)


def assert_stored_groups(sls, stream, want_groups):
    """The stream holds exactly want_groups (one LogGroup per accepted request, any shard order)."""
    got = pull_stream(sls, stream)
    assert len(got) == len(want_groups), "expected %d LogGroups, pulled %d: %r" % (
        len(want_groups), len(got), [(g.tags, g.logs[:3]) for g in got])
    remaining = list(got)
    for want in want_groups:
        if want in remaining:
            remaining.remove(want)
            continue
        # Explain against the pulled group with the same tags (or the first one left).
        near = next((g for g in remaining if g.tags == want.tags), remaining[0])
        pytest.fail("a sent group was not pulled back as sent:\n%s" % group_diff(want, near))
