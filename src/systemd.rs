//! systemd integration for `Type=notify` units (`dist/logtide.service`): `READY=1` once the daemon
//! accepts writes, `STOPPING=1` when shutdown starts, and `WATCHDOG=1` every half `WATCHDOG_USEC`
//! for as long as the daemon is healthy, so that systemd restarts a daemon that hangs or has lost
//! a shard worker. Without `NOTIFY_SOCKET` (not started by systemd: tests, `scripts/serve`)
//! nothing is sent.

use std::net::SocketAddr;
use std::time::Duration;

use sd_notify::NotifyState;

use crate::logging::Throttle;

/// The daemon is up and accepts writes.
pub fn ready(addr: SocketAddr) {
    let status = format!("accepting writes on {addr}");
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// Shutdown has started: the daemon drains and flushes, then exits.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("draining shard queues and flushing")]);
}

/// When systemd asked for a watchdog (`WatchdogSec=`), spawns a task on the current runtime that
/// sends `WATCHDOG=1` every half period while `healthy()` holds. The task runs until the process
/// exits: systemd keeps the watchdog armed while the service stops, too.
pub fn spawn_watchdog(healthy: impl Fn() -> bool + Send + 'static) -> Option<tokio::task::JoinHandle<()>> {
    let period = sd_notify::watchdog_enabled()?;
    let every = (period / 2).max(Duration::from_millis(10));
    tracing::info!(every_ms = every.as_millis() as u64, "systemd watchdog enabled");
    Some(tokio::spawn(async move {
        static UNHEALTHY: Throttle = Throttle::new(crate::logging::REPEAT_INTERVAL_MS);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if healthy() {
                send(&[NotifyState::Watchdog]);
            } else if let Some(suppressed) = UNHEALTHY.allow() {
                tracing::error!(suppressed, "unhealthy (a shard worker has stopped): not feeding the systemd watchdog");
            }
        }
    }))
}

fn send(states: &[NotifyState<'_>]) {
    static FAILURES: Throttle = Throttle::new(crate::logging::REPEAT_INTERVAL_MS);
    if let Err(e) = sd_notify::notify(states) {
        // The watchdog sends every few seconds (or milliseconds): one line per interval.
        if let Some(suppressed) = FAILURES.allow() {
            tracing::warn!(error = %e, suppressed, "cannot notify systemd");
        }
    }
}
