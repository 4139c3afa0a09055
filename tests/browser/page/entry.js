// The browser side of tests/browser: the real @aliyun-sls/web-track-browser SDK, bundled by
// esbuild into dist/bundle.js and loaded by page/index.html. driver.mjs calls
// window.runScenario(name, cfg) with the daemon's address and the logstore names.
//
// The logs below are the RAW values handed to the SDK (numbers, objects, null, undefined...).
// test_web_tracking.py holds, independently, the strings the SDK must turn them into and the
// batches (one POST each) the tracker's count/time/immediate rules must produce.
import SlsTracker from '@aliyun-sls/web-track-browser';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const TAGS = { env: 'browser-test', page: '首页 ✓' };

function tracker(cfg, logstore) {
  return new SlsTracker({
    host: cfg.host, // "http://127.0.0.1:PORT": the SDK then posts to {host}/logstores/{ls}/track
    project: 'webproj', // not sent anywhere by the SDK (sls.md §7.3)
    logstore,
    time: 1, // flush 1 s after the first buffered log...
    count: 2, // ...or as soon as 2 logs are buffered
    topic: 'browser-topic',
    source: 'browser-src',
    tags: TAGS,
  });
}

const scenarios = {
  // Seven POSTs to cfg.logstore, covering every send method and both transports.
  async main(cfg) {
    const t = tracker(cfg, cfg.logstore);
    // POST 1: send() twice, flushed by count (2).
    t.send({ step: 'send-count-1', text: 'hello', price: 7998 });
    t.send({ step: 'send-count-2', float: 0.1 + 0.2, neg: -42, big: 1e21, zero: 0 });
    // POST 2: sendImmediate(), flushed at once.
    t.sendImmediate({
      step: 'send-immediate',
      zh: '中文日志',
      emoji: '🚀✓',
      accent: 'café',
      obj: { a: 1, b: [1, 'x', null], c: { d: '中' } },
    });
    // POST 3: one send(), flushed by the 1 s timer.
    t.send({ step: 'send-timer', yes: true, no: false, nothing: null, list: [1, 2, 3], empty: '' });
    await sleep(1600);
    // POST 4: sendBatchLogs() of 3 (>= count), flushed at once.
    t.sendBatchLogs([
      { step: 'batch-1', i: 1 },
      { step: 'batch-2', i: 2 },
      { step: 'batch-3', i: 3, quote: 'say "hi"\n\ttab\\ <b>&amp;</b>' },
    ]);
    // POST 5: sendBatchLogsImmediate() of 2.
    t.sendBatchLogsImmediate([
      { step: 'batch-immediate-1', undef: undefined },
      { step: 'batch-immediate-2', 'ключ': 'значение', '键': '值' },
    ]);
    // POST 6: sendBatchLogs() of 1, flushed by the timer.
    t.sendBatchLogs([{ step: 'batch-timer', at: 'timer' }]);
    await sleep(1600);
    // POST 7: a payload of >= 32768 chars: the SDK uses XMLHttpRequest instead of sendBeacon.
    t.sendImmediate({ step: 'xhr-large', big: 'x'.repeat(40000), tail: '尾' });
    return 7;
  },

  // Two POSTs to a logstore with web tracking disabled (a beacon, then an XHR for a large
  // payload), then one to an enabled control logstore.
  async disabled(cfg) {
    const off = tracker(cfg, cfg.disabledLogstore);
    off.sendImmediate({ step: 'must-not-be-stored' });
    await sleep(300);
    off.sendImmediate({ step: 'must-not-be-stored-xhr', big: 'y'.repeat(40000) });
    await sleep(300);
    tracker(cfg, cfg.controlLogstore).sendImmediate({ step: 'control' });
    return 3;
  },
};

window.runScenario = async (name, cfg) => {
  const scenario = scenarios[name];
  if (!scenario) throw new Error('unknown scenario ' + name);
  return scenario(cfg);
};
window.__ready = true;
