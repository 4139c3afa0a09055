"""Fixtures that run the real `logtide` binary and point the official SLS Python SDK at it.

The daemon is started once per pytest session (`$LOGTIDE_BIN serve --config <tmp>`),
on port 0, with a temp data dir and one access key.  It must print exactly one
line to stdout, `logtide listening on 127.0.0.1:PORT`, and exit 0 on SIGTERM.

The SDK cannot reach `127.0.0.1:PORT` on its own (it would dial `<project>.127.0.0.1`):
we construct `LogClient("127.0.0.1:PORT", ...)` and set `_isRowIp = True`, so it dials
127.0.0.1:PORT and sends `Host: <project>.127.0.0.1` (sls.md §12).
"""

import json
import os
import queue
import re
import signal
import subprocess
import threading
import urllib.error
import urllib.request
import uuid

import pytest
from aliyun.log import LogClient, LogException

ACCESS_KEY_ID = "AKIDTEST"
ACCESS_KEY_SECRET = "SECRETTEST"
# Keys with one grant each on every project: read only, and write only (an agent's key).
READER_KEY = ("AKIDREADER", "SECRETREADER")
WRITER_KEY = ("AKIDWRITER", "SECRETWRITER")
# LogGroup.Source the client writes when a request names none.  Only a label in the
# payload (TEST-NET-1, never contacted); giving it also avoids the SDK's UDP probe.
CLIENT_SOURCE = "192.0.2.10"

READY_LINE = re.compile(r"^logtide listening on 127\.0\.0\.1:(\d+)$")
READY_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 30
SDK_TIMEOUT_SECONDS = 30


class Daemon:
    """A running logtide process and what it has printed."""

    def __init__(self, process, port, stderr_path, stdout_lines):
        self.process = process
        self.port = port
        self.stderr_path = stderr_path
        self.stdout_lines = stdout_lines  # queue of lines printed after the ready line

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    def stderr_tail(self, limit=6000):
        return _stderr_text(self.stderr_path, limit)


def _stderr_text(path, limit=6000):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-limit:]
    except OSError as err:
        return "<cannot read daemon stderr: %s>" % err


def _read_lines(stream, sink):
    for raw in iter(stream.readline, b""):
        sink.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
    sink.put(None)  # end of stream


def _write_config(workdir):
    data_dir = os.path.join(workdir, "data")
    config_path = os.path.join(workdir, "logtide.toml")
    # json.dumps yields a valid TOML basic string for any path.
    config = "\n".join(
        [
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
            "",
            "[[access_keys]]",
            "id = %s" % json.dumps(READER_KEY[0]),
            "secret = %s" % json.dumps(READER_KEY[1]),
            'read_projects = ["*"]',
            "",
            "[[access_keys]]",
            "id = %s" % json.dumps(WRITER_KEY[0]),
            "secret = %s" % json.dumps(WRITER_KEY[1]),
            'write_projects = ["*"]',
            "",
            # More sections (scripts/test runs the suite again on the Kafka backend with it). Each
            # daemon gets its own "{unique}" (its own topics, hence its own shared catalog).
            os.environ.get("LOGTIDE_EXTRA_TOML", "").replace("{unique}", uuid.uuid4().hex),
        ]
    )
    with open(config_path, "w") as f:
        f.write(config)
    return config_path


def _binary_path():
    binary = os.environ.get("LOGTIDE_BIN")
    if not binary:
        pytest.fail(
            "LOGTIDE_BIN is not set: point it at the logtide binary, e.g. "
            "LOGTIDE_BIN=$HOME/.cache/logtide-target/debug/logtide",
            pytrace=False,
        )
    binary = os.path.abspath(binary)
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        pytest.fail("LOGTIDE_BIN=%s is not an executable file" % binary, pytrace=False)
    return binary


def start_daemon(workdir):
    """Start `$LOGTIDE_BIN serve` with a config in workdir (written once, then reused)."""
    binary = _binary_path()
    config_path = os.path.join(workdir, "logtide.toml")
    if not os.path.exists(config_path):
        config_path = _write_config(workdir)
    stderr_path = os.path.join(workdir, "daemon.stderr")
    with open(stderr_path, "ab") as stderr_file:
        process = subprocess.Popen(
            [binary, "serve", "--config", config_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
        )
    lines = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()

    try:
        line = lines.get(timeout=READY_TIMEOUT_SECONDS)
    except queue.Empty:
        process.kill()
        process.wait()
        pytest.fail(
            "logtide printed no ready line within %ds.\nstderr:\n%s"
            % (READY_TIMEOUT_SECONDS, _stderr_text(stderr_path)),
            pytrace=False,
        )
    if line is None:
        code = process.wait()
        pytest.fail(
            "logtide exited with %s before printing its ready line.\nstderr:\n%s"
            % (code, _stderr_text(stderr_path)),
            pytrace=False,
        )
    match = READY_LINE.match(line)
    if not match:
        process.kill()
        process.wait()
        pytest.fail(
            "first stdout line of logtide is %r, expected 'logtide listening on "
            "127.0.0.1:PORT'.\nstderr:\n%s" % (line, _stderr_text(stderr_path)),
            pytrace=False,
        )
    return Daemon(process, int(match.group(1)), stderr_path, lines)


def stop_daemon(running):
    """SIGTERM the daemon; assert it exits 0 within 30 s and printed nothing more on stdout."""
    process = running.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(
                "logtide did not exit within %ds of SIGTERM.\nstderr:\n%s"
                % (STOP_TIMEOUT_SECONDS, running.stderr_tail()),
                pytrace=False,
            )
    else:
        code = process.returncode
    assert code == 0, "logtide exited with %s after SIGTERM.\nstderr:\n%s" % (
        code,
        running.stderr_tail(),
    )
    extra = []
    while True:
        try:
            line = running.stdout_lines.get(timeout=2)
        except queue.Empty:
            break
        if line is None:
            break
        extra.append(line)
    assert extra == [], "logtide printed more than its ready line on stdout: %r" % extra


@pytest.fixture(scope="session")
def daemon(tmp_path_factory):
    """The daemon shared by the whole session; stopped with SIGTERM at the end."""
    running = start_daemon(str(tmp_path_factory.mktemp("logtide")))
    yield running
    stop_daemon(running)


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
            "logtide exited with %s during this test.\nstderr:\n%s"
            % (code, running.stderr_tail()),
            pytrace=False,
        )


def make_client(daemon, access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET, **kwargs):
    """An SDK client that reaches the daemon at 127.0.0.1:PORT (sls.md §12).

    kwargs go to LogClient, e.g. auth_version="v4", region="cn-hangzhou".
    """
    client = LogClient(
        "127.0.0.1:%d" % daemon.port, access_key_id, access_key_secret, source=CLIENT_SOURCE, **kwargs
    )
    client._isRowIp = True
    client.timeout = SDK_TIMEOUT_SECONDS
    return client


@pytest.fixture(scope="session")
def client(daemon):
    return make_client(daemon)


def unique_name(prefix):
    """A fresh project name: 3..63 chars of [a-z0-9-], starting and ending alnum."""
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:10])
    assert 3 <= len(name) <= 63 and re.match(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$", name), name
    return name


@pytest.fixture(scope="module")
def project(client, request):
    """A fresh project for one test module; deleted (best effort) afterwards."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.module.__name__.split(".")[-1].lower())
    name = unique_name("sdk-" + stem.strip("-")[:30])
    client.create_project(name, "logtide python sdk conformance")
    yield name
    try:
        for logstore in client.list_logstore(name).get_logstores():
            client.delete_logstore(name, logstore)
        client.delete_project(name)
    except LogException:
        pass


def http_get(daemon, path):
    """(status, body) of a plain unsigned GET to the daemon."""
    try:
        with urllib.request.urlopen(daemon.base_url + path, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
