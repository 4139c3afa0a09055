"""Fixtures that run the real `logtide` binary for the Huawei LTS conformance suite.

The daemon is started once per pytest session exactly as tests/sdk does it (via
tests/sdk/conftest.py's start_daemon / stop_daemon / make_client, which lts_support loads
by file path under another module name so that the two conftest modules never clash),
with a config that adds the LTS bits: the access key's allowed LTS project ids and one
`[[lts.tokens]]` entry.

Clients:
* `sls`: the official aliyun-log-python-sdk LogClient (creates projects/logstores, which
  ARE the LTS log groups/streams, and reads uploaded logs back with PullLogs);
* `lts_client`: the official huaweicloudsdklts LtsClient, signed by huaweicloudsdkcore,
  pointed at http://127.0.0.1:PORT with `with_endpoint` and no region (lts.md §2).
"""

import json
import os
import uuid
import re

import pytest
from aliyun.log import LogException

from lts_support import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    create_stream,
    find_group_id,
    make_lts_client,
    PROJECT_ID,
    sls_conftest,
    TOKEN,
    unique_name,
)


def _write_config(workdir):
    data_dir = os.path.join(workdir, "data")
    config_path = os.path.join(workdir, "logtide.toml")
    # json.dumps yields a valid TOML basic string for any str.
    lines = [
        "[server]",
        'listen = "127.0.0.1:0"',
        "data_dir = %s" % json.dumps(data_dir),
        "",
        "[catalog]",
        "auto_create = false",
        "",
        "[[access_keys]]",
        "id = %s" % json.dumps(ACCESS_KEY_ID),
        "secret = %s" % json.dumps(ACCESS_KEY_SECRET),
        "project_ids = [%s]" % json.dumps(PROJECT_ID),
        "",
        "[[lts.tokens]]",
        "token = %s" % json.dumps(TOKEN),
        "project_id = %s" % json.dumps(PROJECT_ID),
        "",
        # More sections (scripts/test runs the suite again on the Kafka backend with it). Each
        # daemon gets its own "{unique}" (its own topics, hence its own shared catalog).
        os.environ.get("LOGTIDE_EXTRA_TOML", "").replace("{unique}", uuid.uuid4().hex),
    ]
    with open(config_path, "w") as f:
        f.write("\n".join(lines))
    return config_path


@pytest.fixture(scope="session")
def daemon(tmp_path_factory):
    """The daemon shared by the whole session; stopped with SIGTERM at the end
    (which asserts exit status 0 and nothing but the ready line on stdout)."""
    workdir = str(tmp_path_factory.mktemp("logtide-lts"))
    _write_config(workdir)  # start_daemon keeps an existing logtide.toml
    running = sls_conftest.start_daemon(workdir)
    yield running
    sls_conftest.stop_daemon(running)


@pytest.fixture(autouse=True)
def _daemon_still_running(request):
    """After every test that used the daemon, fail if it has died meanwhile."""
    yield
    if "daemon" not in request.fixturenames:
        return
    running = request.getfixturevalue("daemon")
    code = running.process.poll()
    if code is not None:
        pytest.fail(
            "logtide exited with %s during this test.\nstderr:\n%s" % (code, running.stderr_tail()),
            pytrace=False,
        )


@pytest.fixture(scope="session")
def sls(daemon):
    """aliyun-log-python-sdk LogClient signed with the same access key."""
    return sls_conftest.make_client(daemon)


@pytest.fixture(scope="session")
def lts_client(daemon):
    return make_lts_client(daemon)


@pytest.fixture(scope="module")
def group(sls, request):
    """A fresh SLS project (= LTS log group) for one test module; deleted (best effort) afterwards."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.module.__name__.split(".")[-1].lower()).strip("-")
    name = unique_name("lts-" + stem[:30])
    sls.create_project(name, "logtide LTS conformance")
    yield name
    try:
        for logstore in sls.list_logstore(name).get_logstores():
            sls.delete_logstore(name, logstore)
        sls.delete_project(name)
    except LogException:
        pass


@pytest.fixture(scope="module")
def group_id(lts_client, group):
    return find_group_id(lts_client, group)


@pytest.fixture
def stream(sls, lts_client, group, group_id):
    """A fresh, empty log stream for one test."""
    return create_stream(sls, lts_client, group, group_id)


@pytest.fixture(scope="module")
def error_stream(sls, lts_client, group, group_id):
    """One stream shared by the error tests; each checks that its request added nothing."""
    return create_stream(sls, lts_client, group, group_id, prefix="ls-errors")
