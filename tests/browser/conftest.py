"""Fixtures of the real-browser web tracking test (tests/browser).

* `daemon`: `$LOGTIDE_BIN serve --config <tmp>` in open mode (no access keys) with
  `auto_create = true` and `default_project = "webproj"`, started once per session on port 0;
  it must print exactly `logtide listening on 127.0.0.1:PORT` and exit 0 on SIGTERM.
* `client`: the official aliyun-log-python-sdk pointed at it (`_isRowIp`, empty keys).
* `run_browser(scenario, cfg)`: runs driver.mjs (node + playwright-core + Debian Chromium),
  which loads page/index.html with the esbuild bundle of page/entry.js and returns the
  /track requests the browser made, as JSON.

Self-contained on purpose: nothing is imported from tests/sdk.
"""

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import uuid

import pytest
from aliyun.log import LogClient

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "driver.mjs")
BUNDLE = os.path.join(HERE, "dist", "bundle.js")
PROJECT = "webproj"
READY_LINE = re.compile(r"^logtide listening on 127\.0\.0\.1:(\d+)$")
READY_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 30
BROWSER_TIMEOUT_SECONDS = 90


class Daemon:
    def __init__(self, process, port, stderr_path, stdout_lines):
        self.process = process
        self.port = port
        self.stderr_path = stderr_path
        self.stdout_lines = stdout_lines

    @property
    def host(self):
        return "http://127.0.0.1:%d" % self.port

    def stderr_tail(self, limit=6000):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-limit:]
        except OSError as err:
            return "<cannot read daemon stderr: %s>" % err


def _binary():
    binary = os.environ.get("LOGTIDE_BIN")
    if not binary:
        pytest.fail("LOGTIDE_BIN is not set: point it at the logtide binary, e.g. "
                    "LOGTIDE_BIN=$HOME/.cache/logtide-target/debug/logtide", pytrace=False)
    binary = os.path.abspath(binary)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.fail("LOGTIDE_BIN=%s is not an executable file" % binary, pytrace=False)
    return binary


def _read_lines(stream, sink):
    for raw in iter(stream.readline, b""):
        sink.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
    sink.put(None)


@pytest.fixture(scope="session")
def daemon(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("logtide-browser"))
    config_path = os.path.join(workdir, "logtide.toml")
    with open(config_path, "w") as f:
        f.write("\n".join([
            "[server]",
            'listen = "127.0.0.1:0"',
            "data_dir = %s" % json.dumps(os.path.join(workdir, "data")),  # JSON string = TOML string
            "[catalog]",
            "auto_create = true",
            'default_project = "%s"' % PROJECT,
            "",
            # More sections (scripts/test runs the test again on the Kafka backend with it); each
            # daemon gets its own "{unique}" (its own topics, hence its own shared catalog).
            os.environ.get("LOGTIDE_EXTRA_TOML", "").replace("{unique}", uuid.uuid4().hex),
        ]))
    stderr_path = os.path.join(workdir, "daemon.stderr")
    with open(stderr_path, "ab") as stderr_file:
        process = subprocess.Popen([_binary(), "serve", "--config", config_path],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr_file)
    lines = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    running = Daemon(process, None, stderr_path, lines)
    try:
        line = lines.get(timeout=READY_TIMEOUT_SECONDS)
    except queue.Empty:
        line = "<nothing within %ds>" % READY_TIMEOUT_SECONDS
    match = READY_LINE.match(line or "")
    if not match:
        process.kill()
        process.wait()
        pytest.fail("logtide did not print 'logtide listening on 127.0.0.1:PORT' (first line: %r)."
                    "\nstderr:\n%s" % (line, running.stderr_tail()), pytrace=False)
    running.port = int(match.group(1))
    yield running

    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("logtide did not exit within %ds of SIGTERM.\nstderr:\n%s"
                    % (STOP_TIMEOUT_SECONDS, running.stderr_tail()), pytrace=False)
    assert code == 0, "logtide exited with %s after SIGTERM.\nstderr:\n%s" % (code, running.stderr_tail())


@pytest.fixture(autouse=True)
def _daemon_still_running(request):
    yield
    if "daemon" in request.fixturenames:
        running = request.getfixturevalue("daemon")
        code = running.process.poll()
        if code is not None:
            pytest.fail("logtide exited with %s during this test.\nstderr:\n%s"
                        % (code, running.stderr_tail()), pytrace=False)


@pytest.fixture(scope="session")
def client(daemon):
    """The SDK in open mode: empty keys (the daemon has none), dialing 127.0.0.1:PORT."""
    c = LogClient("127.0.0.1:%d" % daemon.port, "", "", source="192.0.2.10")
    c._isRowIp = True
    c.timeout = 30
    return c


@pytest.fixture(scope="session")
def run_browser(daemon):
    node = shutil.which("node")
    if not node:
        pytest.fail("node is not on PATH", pytrace=False)
    if not os.path.isfile(BUNDLE) or not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        pytest.fail("%s or node_modules is missing: run scripts/test-browser (npm ci + esbuild)" % BUNDLE,
                    pytrace=False)

    def run(scenario, cfg):
        arg = json.dumps({"scenario": scenario, "cfg": dict(cfg, host=daemon.host)})
        try:
            done = subprocess.run([node, DRIVER, arg], cwd=HERE, capture_output=True,
                                  timeout=BROWSER_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired as err:
            pytest.fail("driver.mjs did not finish within %ds.\nstderr:\n%s"
                        % (BROWSER_TIMEOUT_SECONDS, (err.stderr or b"").decode("utf-8", "replace")[-4000:]),
                        pytrace=False)
        stderr = done.stderr.decode("utf-8", "replace")
        if done.returncode != 0:
            pytest.fail("driver.mjs exited with %d.\nstderr:\n%s" % (done.returncode, stderr[-4000:]),
                        pytrace=False)
        result = json.loads(done.stdout.decode("utf-8").strip().splitlines()[-1])
        assert result["pageErrors"] == [], "errors thrown in the page: %r" % result["pageErrors"]
        return result

    return run
