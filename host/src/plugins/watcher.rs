//! Watches the plugins folder: a change under `<dir>/<name>/` reloads plugin `name` once the
//! folder has been quiet for the debounce time.

use std::collections::BTreeSet;
use std::path::Component;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::{Plugins, ReloadOutcome};
use crate::audit::{Actor, Audit, AuditAction, Change};

/// Keeps the watch alive; dropping it stops watching.
pub struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl Plugins {
    /// Each reload it makes is recorded in `audit` as the watcher's.
    pub fn watch(&self, debounce: Duration, audit: Audit) -> Result<Watcher, String> {
        let root = self.dir().canonicalize().map_err(|e| format!("plugins dir: {e}"))?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let base = root.clone();
        let mut debouncer = new_debouncer(debounce, None, move |result: DebounceEventResult| {
            let Ok(events) = result else { return };
            for path in events.iter().flat_map(|e| e.paths.iter()) {
                if let Ok(rel) = path.strip_prefix(&base)
                    && let Some(Component::Normal(first)) = rel.components().next()
                    && let Some(name) = first.to_str()
                    && !name.starts_with('.')
                {
                    let _ = tx.send(name.to_owned());
                }
            }
        })
        .map_err(|e| format!("cannot watch plugins dir: {e}"))?;
        debouncer.watch(&root, RecursiveMode::Recursive).map_err(|e| format!("cannot watch plugins dir: {e}"))?;
        let plugins = self.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut names = BTreeSet::from([first]);
                while let Ok(more) = rx.try_recv() {
                    names.insert(more);
                }
                for name in names {
                    let outcome = plugins.reload(&name).await;
                    if let Some(change) = reload_change(&name, &outcome) {
                        audit.record(&Actor::Watcher, change).await;
                    }
                }
            }
        });
        Ok(Watcher { _debouncer: debouncer })
    }
}

/// The audit entry of a reload; `None` when nothing happened (unchanged, or not a plugin).
pub fn reload_change(name: &str, outcome: &ReloadOutcome) -> Option<Change> {
    let detail = match outcome {
        ReloadOutcome::Loaded { version } => format!("loaded version {version}"),
        ReloadOutcome::Unloaded => "folder removed: unloaded".to_owned(),
        ReloadOutcome::Refused(why) => format!("refused: {why}"),
        ReloadOutcome::Unchanged | ReloadOutcome::Missing => return None,
    };
    Some(Change { tenant: None, action: AuditAction::PluginReloaded, target: name.to_owned(), detail: None }.detail(detail))
}
