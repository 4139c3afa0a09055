//! Which request goes next, shared by all connection tasks: slot `k` of a run is its `k`-th
//! request. Open loop (a target rate R): slot `k` has the intended start `t0 + k/R`, whatever the
//! server does, and latency counts from that instant, so a stalled server shows as latency
//! (coordinated-omission correction); slots whose time passed before the window closed without
//! a free connection are counted as missed. Closed loop: a connection takes the next slot as soon
//! as it is free. Slots started before the warm-up ends are sent but not measured.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// When a run stops issuing requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this much measured time (after the warm-up).
    Duration(Duration),
    /// After this many measured requests.
    Requests(u64),
}

/// One request to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub index: u64,
    /// Open loop: when the request should start; latency is measured from here.
    pub intended: Option<Instant>,
    /// Started after the warm-up: counted in the report.
    pub measured: bool,
}

/// The offset of slot `k` from the start at `rate` requests per second.
pub fn slot_offset(k: u64, rate: f64) -> Duration {
    Duration::from_secs_f64(k as f64 / rate)
}

/// The first slot whose offset is at least `at`: every earlier slot starts before `at`.
pub fn first_slot_at(at: Duration, rate: f64) -> u64 {
    let mut k = (at.as_secs_f64() * rate).ceil().max(0.0) as u64;
    // Correct the float estimate so that the answer agrees exactly with `slot_offset`.
    while k > 0 && slot_offset(k - 1, rate) >= at {
        k -= 1;
    }
    while slot_offset(k, rate) < at {
        k += 1;
    }
    k
}

/// The shared schedule of one run.
#[derive(Debug)]
pub struct Plan {
    t0: Instant,
    rate: Option<f64>,
    warmup: Duration,
    stop: Stop,
    next: AtomicU64,
    measured_taken: AtomicU64,
    /// Open loop: the first measured slot and the first slot past the end.
    first_measured: u64,
    limit: u64,
}

impl Plan {
    pub fn new(t0: Instant, rate: Option<f64>, warmup: Duration, stop: Stop) -> Plan {
        let (first_measured, limit) = match rate {
            Some(r) => {
                let first = first_slot_at(warmup, r);
                let limit = match stop {
                    Stop::Duration(d) => first_slot_at(warmup + d, r),
                    Stop::Requests(n) => first.saturating_add(n),
                };
                (first, limit)
            }
            None => (0, u64::MAX),
        };
        Plan {
            t0,
            rate,
            warmup,
            stop,
            next: AtomicU64::new(0),
            measured_taken: AtomicU64::new(0),
            first_measured,
            limit,
        }
    }

    /// Where the measured window starts.
    pub fn measure_start(&self) -> Instant {
        self.t0 + self.warmup
    }

    /// Where the measured window is planned to end (duration runs).
    pub fn planned_end(&self) -> Option<Instant> {
        match self.stop {
            Stop::Duration(d) => Some(self.t0 + self.warmup + d),
            Stop::Requests(_) => None,
        }
    }

    /// The next slot to send, or `None` once the run is over.
    pub fn next(&self, now: Instant) -> Option<Slot> {
        let end = self.planned_end();
        let Some(rate) = self.rate else {
            let measured = now >= self.measure_start();
            if end.is_some_and(|end| now >= end) {
                return None;
            }
            if let (Stop::Requests(n), true) = (self.stop, measured) {
                if self.measured_taken.fetch_add(1, Ordering::Relaxed) >= n {
                    return None;
                }
            }
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            return Some(Slot { index, intended: None, measured });
        };
        // Open loop: a slot whose window has closed is missed, not sent late.
        if end.is_some_and(|end| now >= end) {
            return None;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        if index >= self.limit {
            return None;
        }
        let measured = index >= self.first_measured;
        if measured {
            self.measured_taken.fetch_add(1, Ordering::Relaxed);
        }
        Some(Slot { index, intended: Some(self.t0 + slot_offset(index, rate)), measured })
    }

    /// Open loop: measured slots of the schedule that were never sent (no free connection before
    /// the window closed). Always 0 in closed loop.
    pub fn missed(&self) -> u64 {
        match self.rate {
            Some(_) => (self.limit - self.first_measured).saturating_sub(self.measured_taken.load(Ordering::Relaxed)),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_arithmetic_is_exact_at_boundaries() {
        assert_eq!(slot_offset(0, 100.0), Duration::ZERO);
        assert_eq!(slot_offset(150, 100.0), Duration::from_millis(1500));
        assert_eq!(first_slot_at(Duration::from_secs(2), 100.0), 200);
        assert_eq!(first_slot_at(Duration::from_millis(2001), 100.0), 201);
        // 0.1 s × 30/s is 3.0000000000000004 in floats: still slot 3.
        assert_eq!(first_slot_at(Duration::from_millis(100), 30.0), 3);
        assert_eq!(first_slot_at(Duration::ZERO, 7.0), 0);
        for (at_ms, rate) in [(1234, 3.3), (999, 1000.0), (5000, 0.7), (1, 12345.6)] {
            let at = Duration::from_millis(at_ms);
            let k = first_slot_at(at, rate);
            assert!(slot_offset(k, rate) >= at && (k == 0 || slot_offset(k - 1, rate) < at), "{at_ms} {rate}");
        }
    }

    #[test]
    fn open_loop_duration_schedule() {
        let t0 = Instant::now();
        // 10/s, 1 s warm-up, 2 s measured: slots 0..9 warm up, 10..29 are measured.
        let plan = Plan::new(t0, Some(10.0), Duration::from_secs(1), Stop::Duration(Duration::from_secs(2)));
        let slots: Vec<Slot> = std::iter::from_fn(|| plan.next(t0)).collect();
        assert_eq!(slots.len(), 30);
        assert_eq!(slots.iter().filter(|s| s.measured).count(), 20);
        assert!(!slots[9].measured && slots[10].measured);
        assert_eq!(slots[25].intended, Some(t0 + Duration::from_millis(2500)));
        assert_eq!(plan.missed(), 0);
        assert_eq!(plan.measure_start(), t0 + Duration::from_secs(1));
        assert_eq!(plan.planned_end(), Some(t0 + Duration::from_secs(3)));
    }

    #[test]
    fn open_loop_slots_not_taken_before_the_end_are_missed() {
        let t0 = Instant::now();
        let plan = Plan::new(t0, Some(100.0), Duration::ZERO, Stop::Duration(Duration::from_secs(1)));
        for _ in 0..40 {
            assert!(plan.next(t0).is_some());
        }
        // The connections were busy until the window closed: the other 60 slots are missed.
        assert_eq!(plan.next(t0 + Duration::from_secs(1)), None);
        assert_eq!(plan.missed(), 60);
    }

    #[test]
    fn open_loop_request_count_schedule() {
        let t0 = Instant::now();
        let plan = Plan::new(t0, Some(50.0), Duration::from_millis(100), Stop::Requests(7));
        let slots: Vec<Slot> = std::iter::from_fn(|| plan.next(t0 + Duration::from_secs(100))).collect();
        assert_eq!(slots.len(), 12, "5 warm-up slots and 7 measured ones, however late");
        assert_eq!(slots.iter().filter(|s| s.measured).count(), 7);
        assert_eq!(slots[11].intended, Some(t0 + Duration::from_millis(220)));
        assert_eq!(plan.missed(), 0);
    }

    #[test]
    fn closed_loop_schedules() {
        let t0 = Instant::now();
        let plan = Plan::new(t0, None, Duration::from_secs(1), Stop::Requests(3));
        let warm = plan.next(t0).unwrap();
        assert!(!warm.measured && warm.intended.is_none());
        let later = t0 + Duration::from_secs(2);
        let measured: Vec<Slot> = std::iter::from_fn(|| plan.next(later)).collect();
        assert_eq!(measured.len(), 3);
        assert!(measured.iter().all(|s| s.measured));
        assert_eq!(measured[2].index, 3);

        let plan = Plan::new(t0, None, Duration::ZERO, Stop::Duration(Duration::from_secs(1)));
        assert!(plan.next(t0 + Duration::from_millis(999)).is_some());
        assert_eq!(plan.next(t0 + Duration::from_secs(1)), None);
        assert_eq!(plan.missed(), 0);
    }
}
