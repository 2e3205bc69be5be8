//! Call counts, error counts and latency percentiles per plugin and hook.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::manifest::Hook;

/// Percentiles come from the most recent calls only, so they follow the current version.
const WINDOW: usize = 1024;

#[derive(Default)]
struct HookStats {
    calls: u64,
    errors: u64,
    recent_us: VecDeque<u32>,
}

#[derive(Default)]
pub struct Metrics {
    hooks: Mutex<BTreeMap<Hook, HookStats>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookView {
    pub calls: u64,
    pub errors: u64,
    pub p50_us: u32,
    pub p99_us: u32,
}

impl Metrics {
    pub fn record(&self, hook: Hook, took: Duration, failed: bool) {
        let mut hooks = self.hooks.lock().expect("metrics lock");
        let h = hooks.entry(hook).or_default();
        h.calls += 1;
        if failed {
            h.errors += 1;
        }
        if h.recent_us.len() == WINDOW {
            h.recent_us.pop_front();
        }
        h.recent_us.push_back(took.as_micros().min(u32::MAX as u128) as u32);
    }

    pub fn view(&self) -> BTreeMap<Hook, HookView> {
        let hooks = self.hooks.lock().expect("metrics lock");
        hooks
            .iter()
            .map(|(hook, h)| {
                let mut sorted: Vec<u32> = h.recent_us.iter().copied().collect();
                sorted.sort_unstable();
                let pct = |p: f64| sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0);
                (*hook, HookView { calls: h.calls, errors: h.errors, p50_us: pct(0.5), p99_us: pct(0.99) })
            })
            .collect()
    }
}
