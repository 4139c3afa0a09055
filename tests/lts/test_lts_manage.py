"""LTS log group and log stream management, driven end to end through the official
`huaweicloudsdklts` 3.1.219 LtsClient (signed by `huaweicloudsdkcore`, SDK-HMAC-SHA256)
against the real logtide binary started by conftest.py.

What is checked (lts.md §2–§4, and logtide's catalog rule that an LTS log group IS an SLS
project and a log stream IS an SLS logstore, each with a 36-character UUID id):

* CreateLogGroup / ListLogGroups / UpdateLogGroup / DeleteLogGroup: status codes (201, 200,
  200, 204), ids, creation times, TTLs, tags, the LTS name and TTL rules, duplicates, unknown
  ids;
* CreateLogStream / ListLogStream / ListLogStreams / UpdateLogStream (`streams-ttl`) /
  DeleteLogStream: the same, plus TTL inheritance (a stream created without a TTL follows its
  group's TTL until it is given its own) and the exact-name filters of ListLogStreams;
* cross-dialect: what LTS creates is writable through the LTS report and readable through the
  aliyun SLS SDK, and what SLS creates is listed by LTS;
* auth: a wrong secret is 401 APIGW.0301 and a project id the key may not use is 403 LTS.0001,
  for every management call, and neither changes anything.

Every error must reach the SDK as a ClientRequestException with status_code, error_code, a
non-empty error_msg and a non-empty request_id (lts_support.assert_sdk_error).

The daemon is shared by the whole session, so every test makes its own groups under unique
names (uuid suffix) and deletes them afterwards.  Quotas (100 groups, 100 streams per group)
are covered by a Rust test, not here.
"""

import collections
import time
import uuid

import pytest
from aliyun.log import LogException
from huaweicloudsdkcore.exceptions.exceptions import ServiceResponseException
from huaweicloudsdklts.v2 import (
    CreateLogGroupParams,
    CreateLogGroupRequest,
    CreateLogStreamParams,
    CreateLogStreamRequest,
    DeleteLogGroupRequest,
    DeleteLogStreamRequest,
    ListLogGroupsRequest,
    ListLogStreamRequest,
    ListLogStreamsRequest,
    TagsBody,
    UpdateLogGroupParams,
    UpdateLogGroupRequest,
    UpdateLogStreamParams,
    UpdateLogStreamRequest,
)

from lts_support import (
    ACCESS_KEY_ID,
    assert_report_ok,
    assert_sdk_error,
    assert_stored_groups,
    contents_group,
    contents_path,
    json_body,
    make_lts_client,
    OTHER_PROJECT_ID,
    post_signed,
    recent_base_ns,
    sdk_error,
    Stream,
    unique_name,
)

# Slack for creation_time: the daemon keeps whole seconds, and its clock is this machine's.
CLOCK_SLACK_MS = 2000

Created = collections.namedtuple("Created", "name id")


# ---------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------

def _now_ms():
    return int(time.time() * 1000)


def _hex(n=12):
    return uuid.uuid4().hex[:n]


def _assert_uuid(value):
    assert isinstance(value, str), "id %r is not a string" % (value,)
    assert len(value) == 36, "id %r is not 36 characters" % value
    assert str(uuid.UUID(value)) == value, "%r is not a lower-case hyphenated uuid" % value


def _assert_int(value, what):
    assert isinstance(value, int) and not isinstance(value, bool), "%s %r is not an integer" % (what, value)


def _assert_creation_time(value, before_ms, after_ms):
    """creation_time is an integer in milliseconds taken while the create call was running."""
    _assert_int(value, "creation_time")
    assert before_ms - CLOCK_SLACK_MS <= value <= after_ms + CLOCK_SLACK_MS, (
        "creation_time %r is not in [%d, %d] ms (the create call's time span)" % (value, before_ms, after_ms))


def _list_groups(client):
    resp = client.list_log_groups(ListLogGroupsRequest())
    assert resp.status_code == 200, resp
    assert isinstance(resp.log_groups, list), resp
    return resp.log_groups


def _groups_named(client, name):
    return [g for g in _list_groups(client) if g.log_group_name == name]


def _one_group(client, name):
    """The single ListLogGroups entry named `name`."""
    found = _groups_named(client, name)
    assert len(found) == 1, "ListLogGroups lists %r %d times" % (name, len(found))
    return found[0]


def _list_streams(client, group_id):
    resp = client.list_log_stream(ListLogStreamRequest(log_group_id=group_id))
    assert resp.status_code == 200, resp
    assert isinstance(resp.log_streams, list), resp
    return resp.log_streams


def _streams_by_name(client, group_id):
    """ListLogStream of a group as {name: entry}, failing if a name repeats."""
    out = {}
    for s in _list_streams(client, group_id):
        assert s.log_stream_name not in out, "stream %r listed twice" % s.log_stream_name
        out[s.log_stream_name] = s
    return out


def _one_stream(client, group_id, name):
    found = [s for s in _list_streams(client, group_id) if s.log_stream_name == name]
    assert len(found) == 1, "ListLogStream lists %r %d times" % (name, len(found))
    return found[0]


def _all_streams(client, group_name=None, stream_name=None):
    """GET /v2/{pid}/log-streams (ListLogStreams) with optional exact-name filters."""
    resp = client.list_log_streams(ListLogStreamsRequest(log_group_name=group_name, log_stream_name=stream_name))
    assert resp.status_code == 200, resp
    assert isinstance(resp.log_streams, list), resp
    return resp.log_streams


def _create_group(client, name, ttl=7, tags=None):
    """CreateLogGroup; the raw SDK response."""
    body = CreateLogGroupParams(log_group_name=name, ttl_in_days=ttl,
                                tags=[TagsBody(key=k, value=v) for k, v in tags.items()] if tags else None)
    return client.create_log_group(CreateLogGroupRequest(body=body))


def _create_stream(client, group_id, name, ttl=None):
    """CreateLogStream (without ttl_in_days in the body when ttl is None); the raw SDK response."""
    body = CreateLogStreamParams(log_stream_name=name, ttl_in_days=ttl)
    return client.create_log_stream(CreateLogStreamRequest(log_group_id=group_id, body=body))


def _update_group(client, group_id, ttl):
    return client.update_log_group(UpdateLogGroupRequest(
        log_group_id=group_id, body=UpdateLogGroupParams(ttl_in_days=ttl)))


def _update_stream(client, group_id, stream_id, ttl):
    return client.update_log_stream(UpdateLogStreamRequest(
        log_group_id=group_id, log_stream_id=stream_id, body=UpdateLogStreamParams(ttl_in_days=ttl)))


def _delete_group(client, group_id):
    return client.delete_log_group(DeleteLogGroupRequest(log_group_id=group_id))


def _delete_stream(client, group_id, stream_id):
    return client.delete_log_stream(DeleteLogStreamRequest(log_group_id=group_id, log_stream_id=stream_id))


def _ttl_of_stream(client, group_id, name):
    return _one_stream(client, group_id, name).ttl_in_days


def _ttl_of_group(client, name):
    return _one_group(client, name).ttl_in_days


@pytest.fixture
def new_group(lts_client):
    """Factory: create a log group through LTS (asserting 201 and a uuid id) and return
    Created(name, id); every group made this way is deleted (best effort) after the test."""
    made = []

    def make(name=None, ttl=7, tags=None):
        name = name or unique_name("mg")
        resp = _create_group(lts_client, name, ttl=ttl, tags=tags)
        assert resp.status_code == 201, "CreateLogGroup %r answered %s" % (name, resp.status_code)
        _assert_uuid(resp.log_group_id)
        made.append(resp.log_group_id)
        return Created(name, resp.log_group_id)

    yield make
    for group_id in made:
        try:
            _delete_group(lts_client, group_id)
        except ServiceResponseException:
            pass


def _new_stream(client, group_id, name=None, ttl=None):
    """Create a stream (asserting 201 and a uuid id); Created(name, id)."""
    name = name or "ls-" + _hex()
    resp = _create_stream(client, group_id, name, ttl=ttl)
    assert resp.status_code == 201, "CreateLogStream %r answered %s" % (name, resp.status_code)
    _assert_uuid(resp.log_stream_id)
    return Created(name, resp.log_stream_id)


# ---------------------------------------------------------------------------------
# Log groups
# ---------------------------------------------------------------------------------

def test_create_log_group_is_201_and_listed_with_its_fields(lts_client, new_group):
    """CreateLogGroup answers 201 with a 36-char uuid log_group_id; ListLogGroups then shows
    the group once, with that id, the name as sent, ttl_in_days 7 and an integer
    creation_time in ms taken during the create call.  Two groups get different ids."""
    name = unique_name("mg-create")
    before = _now_ms()
    created = new_group(name=name, ttl=7)
    after = _now_ms()
    other = new_group(ttl=7)
    assert created.id != other.id

    listed = _one_group(lts_client, name)
    assert listed.log_group_id == created.id
    assert listed.ttl_in_days == 7
    _assert_int(listed.ttl_in_days, "ttl_in_days")
    _assert_creation_time(listed.creation_time, before, after)
    ids = [g.log_group_id for g in _list_groups(lts_client)]
    assert len(ids) == len(set(ids)), "log_group_id values repeat: %r" % ids


@pytest.mark.parametrize("make_name", [
    lambda h: "Grp.Test_1" + h,                      # upper case, dot, underscore
    lambda h: "Q",                                    # 1 character
    lambda h: ("Max.Len_" + h + "z" * 64)[:64],       # exactly 64 characters
    lambda h: "-starts-with-dash-" + h,
    lambda h: "9starts.with.digit_" + h,
    lambda h: "ends_with_underscore-" + h + "_",
], ids=["mixed-case-dot-underscore", "one-char", "64-chars", "leading-dash", "leading-digit", "trailing-underscore"])
def test_valid_group_names_are_accepted_verbatim(lts_client, new_group, make_name):
    """Names of 1–64 letters, digits, `_`, `-`, `.` not starting with `.`/`_` and not ending
    with `.` are accepted (upper case included) and listed exactly as sent."""
    name = make_name(_hex(8))
    assert 1 <= len(name) <= 64
    created = new_group(name=name)
    assert [g.log_group_id for g in _groups_named(lts_client, name)] == [created.id]


@pytest.mark.parametrize("make_name", [
    lambda h: "",
    lambda h: ".lead-dot-" + h,
    lambda h: "_lead-underscore-" + h,
    lambda h: "trail-dot-" + h + ".",
    lambda h: ("too.long_" + h + "z" * 65)[:65],
    lambda h: "has space " + h,
    lambda h: "slash/" + h,
    lambda h: "star*" + h,
    lambda h: "colon:" + h,
    lambda h: "\u65e5\u5fd7\u7ec4" + h,
], ids=["empty", "leading-dot", "leading-underscore", "trailing-dot", "65-chars", "space", "slash",
        "star", "colon", "non-ascii"])
def test_invalid_group_name_is_lts_0009(lts_client, make_name):
    """A name breaking the rules: 400 LTS.0009, and no group of that name appears."""
    name = make_name(_hex(8))
    err = sdk_error(lambda: _create_group(lts_client, name, ttl=7))
    assert_sdk_error(err, 400, "LTS.0009")
    assert _groups_named(lts_client, name) == []


@pytest.mark.parametrize("ttl", [0, 366, -1, 100000])
def test_invalid_group_ttl_is_lts_0009(lts_client, ttl):
    """ttl_in_days outside 1–365: 400 LTS.0009 and nothing created."""
    name = unique_name("mg-badttl")
    err = sdk_error(lambda: _create_group(lts_client, name, ttl=ttl))
    assert_sdk_error(err, 400, "LTS.0009")
    assert _groups_named(lts_client, name) == []


@pytest.mark.parametrize("ttl", [1, 365])
def test_group_ttl_edges_are_accepted(lts_client, new_group, ttl):
    """ttl_in_days 1 and 365 (the range's ends) are accepted and listed as sent."""
    created = new_group(ttl=ttl)
    assert _ttl_of_group(lts_client, created.name) == ttl


def test_duplicate_group_name_is_lts_0101(lts_client, new_group):
    """Creating a group under an existing name (even with another ttl): 400 LTS.0101; the
    existing group keeps its id and ttl and is still listed once."""
    created = new_group(ttl=7)
    for ttl in (7, 30):
        err = sdk_error(lambda: _create_group(lts_client, created.name, ttl=ttl))
        assert_sdk_error(err, 400, "LTS.0101")
    listed = _one_group(lts_client, created.name)
    assert (listed.log_group_id, listed.ttl_in_days) == (created.id, 7)


def test_group_tags_are_shown_as_a_tag_map(lts_client, new_group):
    """tags [{key, value}] given at creation come back from ListLogGroups as the `tag` map;
    a group created without tags shows no tag."""
    tags = {"team": "core", "env": "test-" + _hex(4)}
    tagged = new_group(tags=tags)
    plain = new_group()
    assert _one_group(lts_client, tagged.name).tag == tags
    assert _one_group(lts_client, plain.name).tag in (None, {})


def test_update_log_group_ttl(lts_client, new_group):
    """UpdateLogGroup (a POST) with ttl_in_days 30: 200 and a body the SDK model exposes —
    creation_time (the listed one), log_group_name, log_group_id and ttl_in_days 30; the
    listing then shows 30 and the same id and creation_time."""
    created = new_group(ttl=7)
    listed_before = _one_group(lts_client, created.name)

    resp = _update_group(lts_client, created.id, 30)
    assert resp.status_code == 200
    assert resp.log_group_id == created.id
    assert resp.log_group_name == created.name
    assert resp.ttl_in_days == 30
    _assert_int(resp.creation_time, "creation_time")
    assert resp.creation_time == listed_before.creation_time

    listed = _one_group(lts_client, created.name)
    assert (listed.log_group_id, listed.ttl_in_days, listed.creation_time) == (
        created.id, 30, listed_before.creation_time)


def test_update_unknown_log_group_is_lts_0201(lts_client):
    """UpdateLogGroup of a well-formed but unknown group id: 400 LTS.0201."""
    err = sdk_error(lambda: _update_group(lts_client, str(uuid.uuid4()), 30))
    assert_sdk_error(err, 400, "LTS.0201")


@pytest.mark.parametrize("ttl", [0, 366])
def test_update_log_group_with_invalid_ttl_is_lts_0009(lts_client, new_group, ttl):
    """UpdateLogGroup with ttl_in_days outside 1–365 (lts.md §3.2): 400 LTS.0009, ttl unchanged."""
    created = new_group(ttl=7)
    err = sdk_error(lambda: _update_group(lts_client, created.id, ttl))
    assert_sdk_error(err, 400, "LTS.0009")
    assert _ttl_of_group(lts_client, created.name) == 7


def test_delete_log_group_is_204_and_removes_it_and_its_streams(lts_client, new_group):
    """DeleteLogGroup: 204 with an empty body; the group leaves ListLogGroups, its streams
    leave ListLogStreams, ListLogStream/UpdateLogGroup/DeleteLogGroup of its id are then
    LTS.0201, and its name is free again: a group re-created under it has a new id and no
    streams."""
    created = new_group(ttl=7)
    streams = [_new_stream(lts_client, created.id) for _ in range(2)]
    assert {s.log_stream_id for s in _all_streams(lts_client, group_name=created.name)} == {s.id for s in streams}

    resp = _delete_group(lts_client, created.id)
    assert resp.status_code == 204
    assert not resp.body, "204 carried a body: %r" % resp.body

    assert _groups_named(lts_client, created.name) == []
    assert _all_streams(lts_client, group_name=created.name) == []
    everything = _all_streams(lts_client)
    assert [s for s in everything if s.log_group_id == created.id] == []
    assert {s.log_stream_id for s in everything} & {s.id for s in streams} == set()

    assert_sdk_error(sdk_error(lambda: _list_streams(lts_client, created.id)), 400, "LTS.0201")
    assert_sdk_error(sdk_error(lambda: _update_group(lts_client, created.id, 30)), 400, "LTS.0201")
    assert_sdk_error(sdk_error(lambda: _delete_group(lts_client, created.id)), 400, "LTS.0201")

    again = new_group(name=created.name, ttl=7)
    assert again.id != created.id
    assert _list_streams(lts_client, again.id) == []


def test_delete_unknown_log_group_is_lts_0201(lts_client):
    err = sdk_error(lambda: _delete_group(lts_client, str(uuid.uuid4())))
    assert_sdk_error(err, 400, "LTS.0201")


# ---------------------------------------------------------------------------------
# Log streams
# ---------------------------------------------------------------------------------

def test_create_log_stream_is_201_and_listed_with_its_fields(lts_client, new_group):
    """CreateLogStream: 201 with a uuid log_stream_id (not the group's); ListLogStream lists it
    once with that id, the name as sent, the group's ttl_in_days (none was given) and a
    creation_time in ms taken during the call."""
    group = new_group(ttl=7)
    name = "Stream.Name_" + _hex(8)  # the LTS charset, upper case included
    before = _now_ms()
    created = _new_stream(lts_client, group.id, name=name)
    after = _now_ms()
    assert created.id != group.id

    listed = _one_stream(lts_client, group.id, name)
    assert listed.log_stream_id == created.id
    assert listed.ttl_in_days == 7
    _assert_int(listed.ttl_in_days, "ttl_in_days")
    _assert_creation_time(listed.creation_time, before, after)


def test_create_log_stream_with_its_own_ttl(lts_client, new_group):
    """A stream created with ttl_in_days 14 in a 7-day group is listed with 14."""
    group = new_group(ttl=7)
    created = _new_stream(lts_client, group.id, ttl=14)
    assert _ttl_of_stream(lts_client, group.id, created.name) == 14


def test_duplicate_log_stream_name_is_lts_0205(lts_client, new_group):
    """A second stream of the same name in the same group: 400 LTS.0205; the first keeps its
    id and is listed once.  The same name in another group is fine."""
    group = new_group()
    created = _new_stream(lts_client, group.id)
    for ttl in (None, 30):
        err = sdk_error(lambda: _create_stream(lts_client, group.id, created.name, ttl=ttl))
        assert_sdk_error(err, 400, "LTS.0205")
    assert _one_stream(lts_client, group.id, created.name).log_stream_id == created.id

    other_group = new_group()
    twin = _new_stream(lts_client, other_group.id, name=created.name)
    assert twin.id != created.id


def test_create_log_stream_in_unknown_group_is_lts_0201(lts_client):
    err = sdk_error(lambda: _create_stream(lts_client, str(uuid.uuid4()), "ls-" + _hex()))
    assert_sdk_error(err, 400, "LTS.0201")


@pytest.mark.parametrize("name, ttl", [
    (".bad-stream", None), ("bad-stream.", None), ("bad stream", None), ("", None),
    ("ls-ttl-0", 0), ("ls-ttl-366", 366),
], ids=["leading-dot", "trailing-dot", "space", "empty", "ttl-0", "ttl-366"])
def test_invalid_log_stream_name_or_ttl_is_lts_0009(lts_client, new_group, name, ttl):
    """Stream names follow the group-name rules and stream ttls 1–365 (lts.md §3.3): 400
    LTS.0009, and the group still has no stream."""
    group = new_group()
    err = sdk_error(lambda: _create_stream(lts_client, group.id, name, ttl=ttl))
    assert_sdk_error(err, 400, "LTS.0009")
    assert _list_streams(lts_client, group.id) == []


def test_stream_ttl_follows_group_until_set_explicitly(lts_client, new_group):
    """TTL inheritance.  In a 7-day group, stream `follows` (no ttl) and `own` (ttl 14):
    * UpdateLogGroup to 30 → `follows` shows 30, `own` still 14;
    * UpdateLogStream (PUT streams-ttl) of `follows` to 5 → 200 with the SDK model's legacy
      fields log_topic_name / log_topic_id / ttl_in_days (and creation_time), then listed 5;
    * UpdateLogGroup to 60 → `follows` stays 5 (no longer follows), `own` stays 14.
    ListLogStreams (all groups) agrees with ListLogStream at the end."""
    group = new_group(ttl=7)
    follows = _new_stream(lts_client, group.id, name="follows-" + _hex(8))
    own = _new_stream(lts_client, group.id, name="own-" + _hex(8), ttl=14)
    created_at = _one_stream(lts_client, group.id, follows.name).creation_time
    assert (_ttl_of_stream(lts_client, group.id, follows.name), _ttl_of_stream(lts_client, group.id, own.name)) == (7, 14)

    assert _update_group(lts_client, group.id, 30).ttl_in_days == 30
    assert (_ttl_of_stream(lts_client, group.id, follows.name), _ttl_of_stream(lts_client, group.id, own.name)) == (30, 14)

    resp = _update_stream(lts_client, group.id, follows.id, 5)
    assert resp.status_code == 200
    assert (resp.log_topic_name, resp.log_topic_id, resp.ttl_in_days) == (follows.name, follows.id, 5)
    assert resp.creation_time == created_at
    assert _ttl_of_stream(lts_client, group.id, follows.name) == 5

    assert _update_group(lts_client, group.id, 60).ttl_in_days == 60
    assert _ttl_of_group(lts_client, group.name) == 60
    by_name = _streams_by_name(lts_client, group.id)
    assert (by_name[follows.name].ttl_in_days, by_name[own.name].ttl_in_days) == (5, 14)
    assert {s.log_stream_name: s.ttl_in_days for s in _all_streams(lts_client, group_name=group.name)} == {
        follows.name: 5, own.name: 14}


def test_update_log_stream_of_an_own_ttl_stream(lts_client, new_group):
    """UpdateLogStream of a stream that had its own ttl: 200, new ttl listed, group unchanged."""
    group = new_group(ttl=7)
    stream = _new_stream(lts_client, group.id, ttl=14)
    resp = _update_stream(lts_client, group.id, stream.id, 90)
    assert (resp.status_code, resp.log_topic_id, resp.ttl_in_days) == (200, stream.id, 90)
    assert _ttl_of_stream(lts_client, group.id, stream.name) == 90
    assert _ttl_of_group(lts_client, group.name) == 7


def test_update_log_stream_errors(lts_client, new_group):
    """UpdateLogStream: unknown stream id 400 LTS.0208; unknown group id 400 LTS.0201; a ttl
    outside 1–365 400 LTS.0009.  The stream keeps its ttl."""
    group = new_group(ttl=7)
    stream = _new_stream(lts_client, group.id, ttl=14)
    assert_sdk_error(sdk_error(lambda: _update_stream(lts_client, group.id, str(uuid.uuid4()), 30)), 400, "LTS.0208")
    assert_sdk_error(sdk_error(lambda: _update_stream(lts_client, str(uuid.uuid4()), stream.id, 30)), 400, "LTS.0201")
    for ttl in (0, 366):
        assert_sdk_error(sdk_error(lambda: _update_stream(lts_client, group.id, stream.id, ttl)), 400, "LTS.0009")
    assert _ttl_of_stream(lts_client, group.id, stream.name) == 14


def test_list_log_streams_across_groups_with_exact_filters(lts_client, new_group):
    """ListLogStreams (GET /v2/{pid}/log-streams) lists every stream of every group with its
    log_group_id; log_group_name and log_stream_name filter by exact name (a prefix matches
    nothing), alone or together."""
    g1, g2 = new_group(ttl=7), new_group(ttl=7)
    shared = "shared-" + _hex()
    a = _new_stream(lts_client, g1.id, name=shared)
    b = _new_stream(lts_client, g1.id, name="only-g1-" + _hex(), ttl=20)
    c = _new_stream(lts_client, g2.id, name=shared)
    mine = {a.id: (g1.id, shared), b.id: (g1.id, b.name), c.id: (g2.id, shared)}

    everything = _all_streams(lts_client)
    got = {s.log_stream_id: (s.log_group_id, s.log_stream_name) for s in everything if s.log_stream_id in mine}
    assert got == mine
    ids = [s.log_stream_id for s in everything]
    assert len(ids) == len(set(ids)), "log_stream_id values repeat"
    entry = next(s for s in everything if s.log_stream_id == b.id)
    assert entry.ttl_in_days == 20
    _assert_int(entry.creation_time, "creation_time")
    assert entry.creation_time == _one_stream(lts_client, g1.id, b.name).creation_time

    by_group = _all_streams(lts_client, group_name=g1.name)
    assert sorted((s.log_stream_id, s.log_group_id) for s in by_group) == sorted([(a.id, g1.id), (b.id, g1.id)])

    by_stream = _all_streams(lts_client, stream_name=shared)
    assert sorted((s.log_stream_id, s.log_group_id) for s in by_stream) == sorted([(a.id, g1.id), (c.id, g2.id)])

    both = _all_streams(lts_client, group_name=g2.name, stream_name=shared)
    assert [(s.log_stream_id, s.log_group_id, s.log_stream_name) for s in both] == [(c.id, g2.id, shared)]

    assert _all_streams(lts_client, group_name=g1.name[:-1]) == []
    assert _all_streams(lts_client, stream_name=shared[:-1]) == []
    assert _all_streams(lts_client, group_name=g1.name, stream_name=c.name + "x") == []


def test_delete_log_stream_is_204_and_removes_only_it(lts_client, new_group):
    """DeleteLogStream: 204 with an empty body; the stream leaves ListLogStream and
    ListLogStreams while its sibling stays; deleting it again is 400 LTS.0208."""
    group = new_group()
    gone = _new_stream(lts_client, group.id)
    kept = _new_stream(lts_client, group.id)

    resp = _delete_stream(lts_client, group.id, gone.id)
    assert resp.status_code == 204
    assert not resp.body, "204 carried a body: %r" % resp.body

    assert {s.log_stream_id for s in _list_streams(lts_client, group.id)} == {kept.id}
    assert gone.id not in {s.log_stream_id for s in _all_streams(lts_client)}
    assert [s.log_stream_id for s in _all_streams(lts_client, group_name=group.name)] == [kept.id]
    assert_sdk_error(sdk_error(lambda: _delete_stream(lts_client, group.id, gone.id)), 400, "LTS.0208")


def test_delete_log_stream_errors(lts_client, new_group):
    """DeleteLogStream: unknown stream id 400 LTS.0208; unknown group id 400 LTS.0201; a
    stream id of another group is unknown in this one (LTS.0208).  Nothing is deleted."""
    g1, g2 = new_group(), new_group()
    s1 = _new_stream(lts_client, g1.id)
    s2 = _new_stream(lts_client, g2.id)
    assert_sdk_error(sdk_error(lambda: _delete_stream(lts_client, g1.id, str(uuid.uuid4()))), 400, "LTS.0208")
    assert_sdk_error(sdk_error(lambda: _delete_stream(lts_client, str(uuid.uuid4()), s1.id)), 400, "LTS.0201")
    assert_sdk_error(sdk_error(lambda: _delete_stream(lts_client, g1.id, s2.id)), 400, "LTS.0208")
    assert [s.log_stream_id for s in _list_streams(lts_client, g1.id)] == [s1.id]
    assert [s.log_stream_id for s in _list_streams(lts_client, g2.id)] == [s2.id]


# ---------------------------------------------------------------------------------
# Cross-dialect: one catalog
# ---------------------------------------------------------------------------------

def test_lts_created_group_and_stream_take_reports_and_are_read_through_sls(daemon, sls, lts_client, new_group):
    """A group and stream created through LTS are an SLS project and logstore: a signed
    tenant/contents report addressed by their ids is stored, and the aliyun SDK (using the
    group NAME as project, the stream name as logstore) lists the logstore, sees the ttl set
    through LTS, and pulls the report back exactly.

    Limitation: the aliyun client puts the project into the Host header
    (`<project>.127.0.0.1`), so only LTS names that are valid lower-case host labels (letters,
    digits, `-`, 3+ characters) can be used from the SLS side; LTS names with upper case, dots
    or underscores are valid log groups but cannot be reached through the aliyun SDK.  Hence
    the lower-case names here."""
    group = new_group(name=unique_name("mg-xdialect"), ttl=7)
    stream = _new_stream(lts_client, group.id, name="xd-" + _hex(), ttl=12)

    assert stream.name in sls.list_logstore(group.name).get_logstores()
    assert sls.get_logstore(group.name, stream.name).get_ttl() == 12

    base = recent_base_ns(nanos=321)
    lines = ["cross dialect one", "cross dialect two"]
    labels = {"via": "lts-created"}
    assert_report_ok(post_signed(daemon, contents_path(group.id, stream.id),
                                 json_body({"log_time_ns": base, "contents": lines, "labels": labels})))
    assert_stored_groups(sls, Stream(group.name, group.id, stream.name, stream.id),
                         [contents_group(labels, base, lines)])


def test_lts_deleted_group_is_gone_from_sls(sls, lts_client, new_group):
    """DeleteLogGroup removes the SLS project too: GetProject is then ProjectNotExist.
    (Lower-case name: see the Host-header limitation in the test above.)"""
    group = new_group(name=unique_name("mg-xdelete"))
    _new_stream(lts_client, group.id, name="xdel-" + _hex())
    assert sls.get_project(group.name).get_projectname() == group.name
    assert _delete_group(lts_client, group.id).status_code == 204
    with pytest.raises(LogException) as info:
        sls.get_project(group.name)
    assert info.value.get_error_code() == "ProjectNotExist", info.value


def test_sls_created_project_and_logstore_are_listed_by_lts(sls, lts_client):
    """A project and logstore created with the aliyun SDK appear in ListLogGroups (uuid id,
    creation_time in ms, integer ttl), ListLogStream (uuid id, the logstore's ttl) and
    ListLogStreams (with the group's id)."""
    project = unique_name("mg-sls")
    logstore = "sls-ls-" + _hex()
    before = _now_ms()
    sls.create_project(project, "created through SLS")
    try:
        sls.create_logstore(project, logstore, ttl=45, shard_count=2, append_meta=False)
        after = _now_ms()

        group = _one_group(lts_client, project)
        _assert_uuid(group.log_group_id)
        _assert_creation_time(group.creation_time, before, after)
        _assert_int(group.ttl_in_days, "ttl_in_days")
        assert group.ttl_in_days > 0

        stream = _one_stream(lts_client, group.log_group_id, logstore)
        _assert_uuid(stream.log_stream_id)
        assert stream.log_stream_id != group.log_group_id
        assert stream.ttl_in_days == 45
        _assert_creation_time(stream.creation_time, before, after)

        listed = _all_streams(lts_client, group_name=project)
        assert [(s.log_stream_id, s.log_group_id, s.log_stream_name) for s in listed] == [
            (stream.log_stream_id, group.log_group_id, logstore)]
    finally:
        try:
            sls.delete_logstore(project, logstore)
            sls.delete_project(project)
        except LogException:
            pass


# ---------------------------------------------------------------------------------
# Authentication and project ids, for every management call
# ---------------------------------------------------------------------------------

Target = collections.namedtuple("Target", "group_name group_id stream_name stream_id")

GROUP_TTL = 7
STREAM_TTL = 11

# name -> call(client, target, fresh_name); fresh_name is a name nothing uses yet.
MANAGEMENT_CALLS = {
    "list_log_groups": lambda c, t, n: c.list_log_groups(ListLogGroupsRequest()),
    "create_log_group": lambda c, t, n: _create_group(c, n, ttl=GROUP_TTL),
    "update_log_group": lambda c, t, n: _update_group(c, t.group_id, 99),
    "delete_log_group": lambda c, t, n: _delete_group(c, t.group_id),
    "create_log_stream": lambda c, t, n: _create_stream(c, t.group_id, n),
    "list_log_stream": lambda c, t, n: c.list_log_stream(ListLogStreamRequest(log_group_id=t.group_id)),
    "list_log_streams": lambda c, t, n: _all_streams(c),
    "update_log_stream": lambda c, t, n: _update_stream(c, t.group_id, t.stream_id, 99),
    "delete_log_stream": lambda c, t, n: _delete_stream(c, t.group_id, t.stream_id),
}


@pytest.fixture(scope="module")
def auth_target(lts_client):
    """One group (ttl 7) with one stream (ttl 11) that the rejected calls aim at."""
    name = unique_name("mg-auth")
    resp = _create_group(lts_client, name, ttl=GROUP_TTL)
    assert resp.status_code == 201
    group_id = resp.log_group_id
    stream_name = "auth-" + _hex()
    stream = _create_stream(lts_client, group_id, stream_name, ttl=STREAM_TTL)
    assert stream.status_code == 201
    yield Target(name, group_id, stream_name, stream.log_stream_id)
    try:
        _delete_group(lts_client, group_id)
    except ServiceResponseException:
        pass


def _assert_untouched(lts_client, target, fresh_name):
    """The rejected call changed nothing: the target group and stream exist with their ids and
    ttls, no group or stream named fresh_name exists."""
    group = _one_group(lts_client, target.group_name)
    assert (group.log_group_id, group.ttl_in_days) == (target.group_id, GROUP_TTL)
    streams = _streams_by_name(lts_client, target.group_id)
    assert set(streams) == {target.stream_name}, sorted(streams)
    assert (streams[target.stream_name].log_stream_id, streams[target.stream_name].ttl_in_days) == (
        target.stream_id, STREAM_TTL)
    assert _groups_named(lts_client, fresh_name) == []


@pytest.mark.parametrize("call", sorted(MANAGEMENT_CALLS))
def test_wrong_secret_is_apigw_0301_for_every_call(daemon, lts_client, auth_target, call):
    """An SDK client signing with the right AK but a wrong secret: 401 APIGW.0301, and the
    call has no effect."""
    bad = make_lts_client(daemon, ak=ACCESS_KEY_ID, sk="WRONG-SECRET")
    fresh = unique_name("mg-never")
    err = sdk_error(lambda: MANAGEMENT_CALLS[call](bad, auth_target, fresh))
    assert_sdk_error(err, 401, "APIGW.0301")
    _assert_untouched(lts_client, auth_target, fresh)


@pytest.mark.parametrize("call", sorted(MANAGEMENT_CALLS))
def test_project_id_not_allowed_is_lts_0001_for_every_call(daemon, lts_client, auth_target, call):
    """A correctly signed client whose project_id is not among the key's project_ids: 403
    LTS.0001, and the call has no effect (even though the group and stream ids exist)."""
    other = make_lts_client(daemon, project_id=OTHER_PROJECT_ID)
    fresh = unique_name("mg-never")
    err = sdk_error(lambda: MANAGEMENT_CALLS[call](other, auth_target, fresh))
    assert_sdk_error(err, 403, "LTS.0001")
    _assert_untouched(lts_client, auth_target, fresh)
