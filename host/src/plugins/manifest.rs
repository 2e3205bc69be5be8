//! `plugin.toml`: what a plugin folder declares about itself.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::outbound::HostPattern;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Hook {
    Auth,
    ClientEvents,
    Transform,
    Bot,
    /// The body of webhooks that ask for plugin bodies (since contract 1.2).
    Webhook,
}

impl Hook {
    pub fn name(self) -> &'static str {
        match self {
            Hook::Auth => "auth",
            Hook::ClientEvents => "client-events",
            Hook::Transform => "transform",
            Hook::Bot => "bot",
            Hook::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub enum Capability {
    #[serde(rename = "log")]
    Log,
    #[serde(rename = "clock")]
    Clock,
    #[serde(rename = "kv")]
    Kv,
    #[serde(rename = "sessions:read")]
    SessionsRead,
    #[serde(rename = "chats:read")]
    ChatsRead,
    /// Links to messages' files (since contract 1.1).
    #[serde(rename = "media:read")]
    MediaRead,
    /// Messages of every kind, reactions, edits, revokes (since contract 1.1).
    #[serde(rename = "messages:send")]
    MessagesSend,
    /// HTTP requests from the bot hook to the hosts `[http] hosts` lists (since contract 1.3).
    #[serde(rename = "http:outbound")]
    HttpOutbound,
}

impl Capability {
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Clock => "clock",
            Capability::Kv => "kv",
            Capability::SessionsRead => "sessions:read",
            Capability::ChatsRead => "chats:read",
            Capability::MediaRead => "media:read",
            Capability::MessagesSend => "messages:send",
            Capability::HttpOutbound => "http:outbound",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    version: String,
    /// Optional: the component records the contract it was built against.
    wit: Option<String>,
    #[serde(default)]
    description: String,
    hooks: BTreeSet<Hook>,
    #[serde(default)]
    capabilities: BTreeSet<Capability>,
    /// The component file; the folder's only `.wasm` when absent.
    component: Option<String>,
    #[serde(default)]
    config: toml::Table,
    http: Option<RawHttp>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    hosts: Vec<HostPattern>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub name: String,
    pub version: String,
    /// The contract version plugin.toml declares, if it does; checked against the component's.
    pub wit: Option<String>,
    pub description: String,
    pub hooks: BTreeSet<Hook>,
    pub capabilities: BTreeSet<Capability>,
    /// Default config, merged under each tenant's own.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Hosts the plugin may send requests to (`[http] hosts`), with `http:outbound`; the
    /// operator and each binding narrow them.
    #[schema(value_type = Vec<String>)]
    pub http_hosts: Vec<HostPattern>,
    #[serde(skip)]
    pub component_path: PathBuf,
}

/// Reads and checks `<dir>/plugin.toml`; errors are the operator-facing reason.
pub fn read(dir: &Path) -> Result<Manifest, String> {
    let path = dir.join("plugin.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(dir, &text)
}

pub fn parse(dir: &Path, text: &str) -> Result<Manifest, String> {
    let raw: RawManifest = toml::from_str(text).map_err(|e| format!("plugin.toml is invalid: {}", e.message()))?;
    crate::model::validate_id(&raw.name).map_err(|e| format!("plugin name '{}': {e}", raw.name))?;
    if let Some(wit) = raw.wit.as_deref().filter(|w| !wit_compatible(w)) {
        return Err(format!("plugin is built for WIT wagate:plugin@{wit}; this gateway links @1.x and @0.3.x"));
    }
    if raw.hooks.is_empty() {
        return Err("plugin.toml lists no hooks".into());
    }
    let component_path = match &raw.component {
        Some(file) if file.contains('/') || file.contains("..") => {
            return Err(format!("component '{file}' must be a file name inside the plugin folder"));
        }
        Some(file) => dir.join(file),
        None => only_wasm(dir)?,
    };
    let config = serde_json::to_value(&raw.config).map_err(|e| format!("config: {e}"))?;
    let http_hosts = raw.http.map(|h| h.hosts).unwrap_or_default();
    if raw.capabilities.contains(&Capability::HttpOutbound) && http_hosts.is_empty() {
        return Err("plugin.toml grants 'http:outbound' but lists no hosts under [http] hosts".into());
    }
    if !raw.capabilities.contains(&Capability::HttpOutbound) && !http_hosts.is_empty() {
        return Err("plugin.toml lists [http] hosts without granting 'http:outbound'".into());
    }
    Ok(Manifest {
        name: raw.name,
        version: raw.version,
        wit: raw.wit,
        description: raw.description,
        hooks: raw.hooks,
        capabilities: raw.capabilities,
        config,
        http_hosts,
        component_path,
    })
}

/// The contracts this host links: 1.x (minors only add) and 0.3.x (semver for 0.x).
fn wit_compatible(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()) && (parts[0] == "1" || parts[..2] == ["0", "3"])
}

fn only_wasm(dir: &Path) -> Result<PathBuf, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let wasm: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    match wasm.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err("no .wasm component in the plugin folder".into()),
        _ => Err("several .wasm files: name one with `component = \"...\"` in plugin.toml".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "x"
version = "1.2.3"
wit = "0.3.0"
hooks = ["transform", "bot"]
capabilities = ["kv", "sessions:read"]
component = "x.wasm"
[config]
greeting = "hi"
"#;

    #[test]
    fn parses_a_manifest() {
        let m = parse(Path::new("/p/x"), GOOD).unwrap();
        assert_eq!(m.name, "x");
        assert!(m.hooks.contains(&Hook::Transform) && m.hooks.contains(&Hook::Bot));
        assert!(m.capabilities.contains(&Capability::SessionsRead));
        assert_eq!(m.config["greeting"], "hi");
        assert_eq!(m.component_path, Path::new("/p/x/x.wasm"));
    }

    #[test]
    fn refuses_with_reasons() {
        let cases = [
            (GOOD.replace("0.3.0", "0.2.0"), "links @1.x and @0.3.x"),
            (GOOD.replace("0.3.0", "2.0.0"), "links @1.x and @0.3.x"),
            (GOOD.replace("\"bot\"", "\"teleport\""), "plugin.toml is invalid"),
            (GOOD.replace("\"kv\"", "\"net\""), "plugin.toml is invalid"),
            (GOOD.replace("name = \"x\"", "name = \"a/b\""), "plugin name"),
            (GOOD.replace("x.wasm", "../y.wasm"), "inside the plugin folder"),
            (GOOD.replace("hooks = [\"transform\", \"bot\"]", "hooks = []"), "no hooks"),
            ("name = ".into(), "plugin.toml is invalid"),
        ];
        for (text, needle) in cases {
            let err = parse(Path::new("/p"), &text).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
        assert!(wit_compatible("0.3.7"));
        assert!(wit_compatible("1.0.0") && wit_compatible("1.4.2"));
        assert!(!wit_compatible("0.2.0"));
        assert!(!wit_compatible("2.0.0"));
        let without = parse(Path::new("/p/x"), &GOOD.replace("wit = \"0.3.0\"\n", "")).unwrap();
        assert_eq!(without.wit, None);
    }

    #[test]
    fn http_outbound_goes_with_its_hosts() {
        let calling = GOOD.replace("\"sessions:read\"]", "\"http:outbound\"]");
        let err = parse(Path::new("/p"), &calling).unwrap_err();
        assert!(err.contains("lists no hosts"), "{err}");
        let with_hosts = format!("{calling}\n[http]\nhosts = [\"*.openai.com\", \"localhost:8080\"]\n");
        let m = parse(Path::new("/p/x"), &with_hosts).unwrap();
        assert!(m.capabilities.contains(&Capability::HttpOutbound));
        assert_eq!(m.http_hosts.len(), 2);
        let stray = format!("{GOOD}\n[http]\nhosts = [\"x.com\"]\n");
        assert!(parse(Path::new("/p"), &stray).unwrap_err().contains("without granting"));
        let bad = format!("{calling}\n[http]\nhosts = [\"https://x.com\"]\n");
        assert!(parse(Path::new("/p"), &bad).unwrap_err().contains("is not a host pattern"));
    }
}
