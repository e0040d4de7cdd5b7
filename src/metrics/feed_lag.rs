//! Feed lag (issue #17 §2): how far each open feed subscription of this replica is behind the
//! feed head, counted in events from the last one its transport took.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// This replica's open feed subscriptions and the position each has reached.
#[derive(Clone, Default)]
pub struct FeedLag {
    open: Arc<Mutex<HashMap<u64, i64>>>,
    next: Arc<AtomicU64>,
}

/// One subscription's entry; removed when the subscription's stream is dropped.
pub struct Tracked {
    lag: FeedLag,
    id: u64,
}

impl FeedLag {
    /// Registers a subscription starting after `position`.
    pub fn track(&self, position: i64) -> Tracked {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, position);
        Tracked {
            lag: self.clone(),
            id,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, i64>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Each open subscription's distance from `head`, in events, smallest first.
    pub fn behind(&self, head: i64) -> Vec<i64> {
        let mut lags: Vec<i64> = self.lock().values().map(|p| (head - p).max(0)).collect();
        lags.sort_unstable();
        lags
    }
}

impl Tracked {
    /// The transport took the event at `position`.
    pub fn delivered(&self, position: i64) {
        if let Some(p) = self.lag.lock().get_mut(&self.id) {
            *p = (*p).max(position);
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.lag.lock().remove(&self.id);
    }
}

/// The value at quantile `q` of `sorted` (nearest rank), 0 when empty.
pub fn quantile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64) * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_is_behind_by_the_events_after_its_last_delivered_one_until_dropped() {
        let lag = FeedLag::default();
        let a = lag.track(10);
        let b = lag.track(0);
        b.delivered(95);
        b.delivered(90);
        assert_eq!(lag.behind(100), vec![5, 90]);
        assert_eq!(quantile(&lag.behind(100), 0.5), 5);
        assert_eq!(quantile(&lag.behind(100), 1.0), 90);
        drop(a);
        assert_eq!(lag.behind(100), vec![5]);
        drop(b);
        assert_eq!(quantile(&lag.behind(100), 1.0), 0);
    }
}
