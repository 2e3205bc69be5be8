//! `wagate plugin new NAME`: a new plugin crate that builds, tests and loads as it is.

use std::path::{Path, PathBuf};

use crate::plugins::manifest::WIT_VERSION;

/// Where this build's plugin-sdk sources are, when they are still on disk.
pub fn default_sdk_path() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk");
    p.join("Cargo.toml").exists().then(|| p.canonicalize().unwrap_or(p))
}

fn type_name(name: &str) -> String {
    name.split(['-', '_', '.'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// Writes `<parent>/<name>/` and returns its path.
pub fn new_plugin(parent: &Path, name: &str, sdk: &Path) -> Result<PathBuf, String> {
    crate::model::validate_id(name).map_err(|e| format!("plugin name: {e}"))?;
    if name.contains('.') || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("plugin names are crate names: letters, digits, '-' and '_', not starting with a digit".into());
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(format!("{} already exists", dir.display()));
    }
    let ty = type_name(name);
    let sdk = sdk.display().to_string().replace('\\', "/");
    let files = [
        (
            "Cargo.toml",
            format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the wasm component; rlib: native unit tests with plugin-sdk's harness.
crate-type = ["cdylib", "rlib"]

[dependencies]
wagate-plugin-sdk = {{ path = "{sdk}" }}
"#
            ),
        ),
        (
            "plugin.toml",
            format!(
                r#"name = "{name}"
version = "0.1.0"
wit = "{WIT_VERSION}"
description = "Renames every canonical event to <prefix>:<event> for the tenant's sockets."
hooks = ["transform"]
capabilities = ["log"]

[config]
prefix = "{name}"
"#
            ),
        ),
        (
            "src/lib.rs",
            format!(
                r#"//! {name}: a wagate plugin. See docs/plugins.md in the wagate repository.

use wagate_plugin_sdk::{{Emit, Event, Plugin, Value, host}};

pub struct {ty} {{
    prefix: String,
}}

impl Plugin for {ty} {{
    fn init(config: Value) -> Result<Self, String> {{
        let prefix = config["prefix"].as_str().ok_or("config.prefix must be a string")?;
        host::info(&format!("{name} ready with prefix {{prefix}}"));
        Ok(Self {{ prefix: prefix.to_owned() }})
    }}

    fn transform(&mut self, event: &Event) -> Vec<Emit> {{
        vec![Emit::to_tenant(format!("{{}}:{{}}", self.prefix, event.name), event.payload.clone())]
    }}
}}

wagate_plugin_sdk::export_plugin!({ty});

#[cfg(test)]
mod tests {{
    use super::*;
    use wagate_plugin_sdk::json;
    use wagate_plugin_sdk::testing::{{Harness, event}};

    #[test]
    fn renames_events() {{
        let mut h = Harness::<{ty}>::new(json!({{ "prefix": "demo" }})).unwrap();
        let out = h.transform(&event("session.status", json!({{ "sessionId": "s1", "status": "CONNECTED" }})));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].event, "demo:session.status");
        assert_eq!(out[0].payload["status"], "CONNECTED");
    }}

    #[test]
    fn refuses_a_config_without_prefix() {{
        assert!(Harness::<{ty}>::new(json!({{}})).is_err());
    }}
}}
"#
            ),
        ),
    ];
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("has a parent")).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    #[test]
    fn type_names() {
        assert_eq!(super::type_name("auto-reply"), "AutoReply");
        assert_eq!(super::type_name("greeter"), "Greeter");
    }
}
