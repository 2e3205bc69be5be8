//! Plugin versions loaded from the plugins folder: compile (or load the precompiled artifact
//! from the cache), type-check, and keep the serving version and the last refusal per name.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::manifest::{self, Manifest};
use super::metrics::Metrics;
use super::sandbox::{Prepared, Sandbox};

/// One loaded version of a plugin. In-flight calls keep theirs alive across a swap.
pub struct Loaded {
    /// Unique per load, so instances of an older version are recognised and replaced.
    pub id: u64,
    pub manifest: Manifest,
    pub pre: Prepared,
    /// The JSON Schema of the plugin's config, when it declares one (1.0 plugins built with
    /// plugin-sdk do); asked of the component once, when the version is loaded.
    pub config_schema: Option<serde_json::Value>,
    pub sha256: String,
    pub loaded_at: DateTime<Utc>,
    pub from_cache: bool,
    pub load_ms: f64,
}

#[derive(Default)]
pub struct Entry {
    pub current: Option<Arc<Loaded>>,
    /// Why the last attempt to load a new version was refused.
    pub last_error: Option<(String, DateTime<Utc>)>,
    pub metrics: Arc<Metrics>,
}

pub struct Registry {
    pub sandbox: Sandbox,
    pub dir: PathBuf,
    cache_dir: PathBuf,
    entries: RwLock<BTreeMap<String, Entry>>,
    next_id: AtomicU64,
}

/// A version ready to be validated against the bindings and swapped in.
pub struct Candidate {
    pub loaded: Loaded,
}

impl Registry {
    pub fn new(sandbox: Sandbox, dir: PathBuf, cache_dir: PathBuf) -> Self {
        Self { sandbox, dir, cache_dir, entries: RwLock::default(), next_id: AtomicU64::new(1) }
    }

    pub fn current(&self, name: &str) -> Option<Arc<Loaded>> {
        self.entries.read().expect("registry lock").get(name).and_then(|e| e.current.clone())
    }

    /// The serving version and the plugin's call metrics, in one read-locked lookup (every
    /// plugin call makes it).
    pub fn serving(&self, name: &str) -> Option<(Arc<Loaded>, Arc<Metrics>)> {
        let entries = self.entries.read().expect("registry lock");
        let entry = entries.get(name)?;
        Some((entry.current.clone()?, entry.metrics.clone()))
    }

    pub fn with_entries<T>(&self, f: impl FnOnce(&BTreeMap<String, Entry>) -> T) -> T {
        f(&self.entries.read().expect("registry lock"))
    }

    /// Names of the plugin folders present on disk.
    pub fn folders(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    }

    /// Reads, compiles and type-checks folder `name`. Blocking: run it off the async runtime.
    pub fn build(&self, name: &str) -> Result<Candidate, String> {
        let started = Instant::now();
        let dir = self.dir.join(name);
        let manifest = manifest::read(&dir)?;
        if manifest.name != name {
            return Err(format!("plugin.toml names '{}' but the folder is '{name}'", manifest.name));
        }
        let wasm = std::fs::read(&manifest.component_path)
            .map_err(|e| format!("cannot read {}: {e}", manifest.component_path.display()))?;
        let sha256 = hex::encode(Sha256::digest(&wasm));
        let (component, from_cache) = self.compile(&wasm, &sha256)?;
        let pre = self
            .sandbox
            .prepare(&component, &manifest)
            .map_err(|e| format!("component does not fit wagate:plugin: {e}"))?;
        Ok(Candidate {
            loaded: Loaded {
                id: self.next_id.fetch_add(1, Ordering::Relaxed),
                manifest,
                pre,
                config_schema: None,
                sha256,
                loaded_at: Utc::now(),
                from_cache,
                load_ms: started.elapsed().as_secs_f64() * 1000.0,
            },
        })
    }

    /// The precompiled artifact is keyed by the component's hash and the engine's
    /// compatibility hash, so a restart (or another folder with the same bytes) skips
    /// compilation, and an engine upgrade never loads a stale artifact.
    fn compile(&self, wasm: &[u8], sha256: &str) -> Result<(Component, bool), String> {
        let engine = &self.sandbox.engine;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let path = self.cache_dir.join(format!("{sha256}-{:016x}.cwasm", hasher.finish()));
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` of an engine with the same
            // compatibility hash, in a directory only the gateway writes.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok((c, true)),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "discarding unusable compiled plugin"),
            }
        }
        let component =
            Component::new(engine, wasm).map_err(|e| format!("not a valid WebAssembly component: {e:#}"))?;
        if let Err(e) = write_cache(&path, &component) {
            tracing::warn!(path = %path.display(), error = %e, "could not cache compiled plugin");
        }
        Ok((component, false))
    }

    /// Makes `candidate` the serving version of its plugin.
    pub fn install(&self, candidate: Candidate) -> Arc<Loaded> {
        let loaded = Arc::new(candidate.loaded);
        let mut entries = self.entries.write().expect("registry lock");
        let entry = entries.entry(loaded.manifest.name.clone()).or_default();
        entry.current = Some(loaded.clone());
        entry.last_error = None;
        loaded
    }

    /// Records why a new version of `name` was refused; the serving version stays.
    pub fn refuse(&self, name: &str, reason: String) {
        let mut entries = self.entries.write().expect("registry lock");
        entries.entry(name.to_owned()).or_default().last_error = Some((reason, Utc::now()));
    }

    /// The folder is gone: stop serving the plugin.
    pub fn unload(&self, name: &str) -> bool {
        let mut entries = self.entries.write().expect("registry lock");
        entries.remove(name).is_some_and(|e| e.current.is_some())
    }
}

fn write_cache(path: &Path, component: &Component) -> std::io::Result<()> {
    let bytes = component.serialize().map_err(|e| std::io::Error::other(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Written aside and renamed, so a concurrent reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}
