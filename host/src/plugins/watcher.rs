//! Watches the plugins folder: a change under `<dir>/<name>/` reloads plugin `name` once the
//! folder has been quiet for the debounce time.

use std::collections::BTreeSet;
use std::path::Component;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::Plugins;

/// Keeps the watch alive; dropping it stops watching.
pub struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl Plugins {
    pub fn watch(&self, debounce: Duration) -> Result<Watcher, String> {
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
                    plugins.reload(&name).await;
                }
            }
        });
        Ok(Watcher { _debouncer: debouncer })
    }
}
