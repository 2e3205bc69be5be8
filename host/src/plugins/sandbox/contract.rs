//! What a component says about itself, read at load from its imports and exports: the
//! contract it was built against, the capabilities its imports need and the hooks it
//! exports, checked against its `plugin.toml` before anything runs.

use std::collections::BTreeSet;

use wasmtime::Engine;
use wasmtime::component::Component;

use super::super::manifest::{Capability, Hook, Manifest};

/// The contract versions this host links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// `wagate:plugin@1.x`, with the minor version it was built against: an interface per
    /// capability and per hook.
    V1 { minor: u64 },
    /// `wagate:plugin@0.3.x`: one `host` import, one `hooks` export, linked through the
    /// adapter so plugins built before 1.0 keep working.
    V0_3,
}

impl Contract {
    pub fn version(self) -> String {
        match self {
            Contract::V1 { minor } => format!("1.{minor}.0"),
            Contract::V0_3 => "0.3.0".into(),
        }
    }

    /// The newest contract this host links, which plugin-sdk builds against.
    pub const CURRENT: Contract = Contract::V1 { minor: 3 };
}

/// The names a component imports and exports.
#[derive(Debug, Clone, Default)]
pub struct Surface {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

impl Surface {
    pub fn of(engine: &Engine, component: &Component) -> Surface {
        let ty = component.component_type();
        Surface {
            imports: ty.imports(engine).map(|(name, _)| name.to_owned()).collect(),
            exports: ty.exports(engine).map(|(name, _)| name.to_owned()).collect(),
        }
    }
}

/// `wagate:plugin/<interface>@<version>` -> (interface, major, minor).
fn ours(name: &str) -> Option<(&str, u64, u64)> {
    let rest = name.strip_prefix("wagate:plugin/")?;
    let (interface, version) = rest.split_once('@')?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((interface, major, minor))
}

/// What a WASI or wagate import needs: `Ok(None)` for what every plugin is given (the WASI a
/// Rust guest needs to start, the shared types), `Err` for what no plugin is ever given.
fn capability_of(import: &str) -> Result<Option<Capability>, ()> {
    if let Some((interface, major, _)) = ours(import) {
        return match interface {
            "types" => Ok(None),
            // The 0.3 contract's one import: its functions check their capability when called.
            "host" if major == 0 => Ok(None),
            "log" => Ok(Some(Capability::Log)),
            "clock" => Ok(Some(Capability::Clock)),
            "kv" => Ok(Some(Capability::Kv)),
            "sessions" => Ok(Some(Capability::SessionsRead)),
            "chats" => Ok(Some(Capability::ChatsRead)),
            "media" if major >= 1 => Ok(Some(Capability::MediaRead)),
            "messages" if major >= 1 => Ok(Some(Capability::MessagesSend)),
            "http" if major >= 1 => Ok(Some(Capability::HttpOutbound)),
            _ => Err(()),
        };
    }
    let package = import.split('/').next().unwrap_or_default();
    match package {
        "wasi:io" | "wasi:cli" | "wasi:random" => Ok(None),
        "wasi:clocks" => Ok(Some(Capability::Clock)),
        _ => Err(()),
    }
}

fn hook_interface(hook: Hook) -> &'static str {
    match hook {
        Hook::Auth => "auth",
        Hook::ClientEvents => "client-events",
        Hook::Transform => "transform",
        Hook::Bot => "bot",
        Hook::Webhook => "webhook",
    }
}

/// The contract of a component and whether it may load under its manifest. Refusals name
/// the interface and the manifest entry they disagree on.
pub fn check(surface: &Surface, manifest: &Manifest) -> Result<Contract, String> {
    let ours_exported: Vec<(&str, u64, u64)> = surface.exports.iter().filter_map(|e| ours(e)).collect();
    let contract = match ours_exported.first() {
        Some((_, 1, minor)) => Contract::V1 { minor: *minor },
        Some((_, 0, 3)) => Contract::V0_3,
        Some((interface, major, minor)) => {
            return Err(format!(
                "the component is built against wagate:plugin@{major}.{minor} (it exports '{interface}'); this gateway links @1.x and @0.3.x"
            ));
        }
        None => {
            return Err(format!(
                "the component exports no wagate:plugin interface (missing export 'wagate:plugin/config@{}')",
                Contract::CURRENT.version()
            ));
        }
    };
    if let Some(declared) = manifest.wit.as_deref() {
        let wanted = if contract == Contract::V0_3 { "0.3." } else { "1." };
        if !declared.starts_with(wanted) {
            return Err(format!(
                "plugin.toml says wit = \"{declared}\" but the component is built against wagate:plugin@{}",
                contract.version()
            ));
        }
    }
    for import in &surface.imports {
        match capability_of(import) {
            Ok(None) => {}
            Ok(Some(cap)) if manifest.capabilities.contains(&cap) => {}
            Ok(Some(cap)) => {
                return Err(format!(
                    "the component imports '{import}', which needs the capability '{}' that plugin.toml does not grant",
                    cap.name()
                ));
            }
            Err(()) => return Err(format!("the component imports '{import}', which no plugin is given")),
        }
    }
    if contract == Contract::V0_3
        && let Some(hook) = manifest.hooks.iter().find(|h| **h == Hook::Webhook)
    {
        return Err(format!(
            "plugin.toml lists the hook '{}', which wagate:plugin@0.3 has not got (it came with 1.2)",
            hook.name()
        ));
    }
    if let Contract::V1 { .. } = contract {
        let exported: BTreeSet<&str> =
            ours_exported.iter().filter(|(_, major, _)| *major == 1).map(|(i, _, _)| *i).collect();
        if !exported.contains("config") {
            return Err(format!(
                "the component does not export 'wagate:plugin/config@{}', which every plugin needs",
                contract.version()
            ));
        }
        for hook in &manifest.hooks {
            let interface = hook_interface(*hook);
            if !exported.contains(interface) {
                return Err(format!(
                    "plugin.toml lists the hook '{}' but the component does not export 'wagate:plugin/{interface}@{}'",
                    hook.name(),
                    contract.version()
                ));
            }
        }
    }
    Ok(contract)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(hooks: &[Hook], capabilities: &[Capability]) -> Manifest {
        Manifest {
            name: "p".into(),
            version: "1.0.0".into(),
            wit: None,
            description: String::new(),
            hooks: hooks.iter().copied().collect(),
            capabilities: capabilities.iter().copied().collect(),
            config: serde_json::json!({}),
            http_hosts: Vec::new(),
            component_path: Default::default(),
        }
    }

    fn surface(imports: &[&str], exports: &[&str]) -> Surface {
        Surface {
            imports: imports.iter().map(|s| s.to_string()).collect(),
            exports: exports.iter().map(|s| s.to_string()).collect(),
        }
    }

    const WASI: &[&str] = &["wasi:io/streams@0.2.6", "wasi:cli/environment@0.2.6", "wasi:random/random@0.2.6"];

    #[test]
    fn a_1_0_component_loads_when_its_imports_are_granted_and_its_hooks_exported() {
        let mut imports = WASI.to_vec();
        imports.extend(["wagate:plugin/types@1.0.0", "wagate:plugin/kv@1.0.0", "wasi:clocks/monotonic-clock@0.2.6"]);
        let s = surface(&imports, &["wagate:plugin/config@1.0.0", "wagate:plugin/transform@1.0.0"]);
        let m = manifest(&[Hook::Transform], &[Capability::Kv, Capability::Clock]);
        assert_eq!(check(&s, &m), Ok(Contract::V1 { minor: 0 }));
        let newer_minor = surface(WASI, &["wagate:plugin/config@1.2.0", "wagate:plugin/transform@1.2.0"]);
        assert_eq!(check(&newer_minor, &m), Ok(Contract::V1 { minor: 2 }));
    }

    #[test]
    fn the_1_1_interfaces_need_their_capabilities() {
        let s =
            surface(&["wagate:plugin/media@1.1.0", "wagate:plugin/messages@1.1.0"], &["wagate:plugin/config@1.1.0"]);
        let err = check(&s, &manifest(&[], &[Capability::MediaRead])).unwrap_err();
        assert!(err.contains("'wagate:plugin/messages@1.1.0'") && err.contains("'messages:send'"), "{err}");
        let granted = manifest(&[], &[Capability::MediaRead, Capability::MessagesSend]);
        assert_eq!(check(&s, &granted), Ok(Contract::V1 { minor: 1 }));
        assert_eq!(Contract::V1 { minor: 1 }.version(), "1.1.0");
        let calling = surface(&["wagate:plugin/http@1.3.0"], &["wagate:plugin/config@1.3.0"]);
        let err = check(&calling, &manifest(&[], &[])).unwrap_err();
        assert!(err.contains("'wagate:plugin/http@1.3.0'") && err.contains("'http:outbound'"), "{err}");
        assert_eq!(check(&calling, &manifest(&[], &[Capability::HttpOutbound])), Ok(Contract::V1 { minor: 3 }));
    }

    #[test]
    fn refusals_name_the_interface_and_the_manifest_entry() {
        let s = surface(&["wagate:plugin/kv@1.0.0"], &["wagate:plugin/config@1.0.0", "wagate:plugin/transform@1.0.0"]);
        let err = check(&s, &manifest(&[Hook::Transform], &[])).unwrap_err();
        assert!(err.contains("'wagate:plugin/kv@1.0.0'") && err.contains("capability 'kv'"), "{err}");
        let clocks = surface(&["wasi:clocks/wall-clock@0.2.6"], &["wagate:plugin/config@1.0.0"]);
        let err = check(&clocks, &manifest(&[], &[])).unwrap_err();
        assert!(err.contains("wasi:clocks/wall-clock") && err.contains("'clock'"), "{err}");
        let files = surface(&["wasi:filesystem/types@0.2.6"], &["wagate:plugin/config@1.0.0"]);
        assert!(check(&files, &manifest(&[], &[])).unwrap_err().contains("which no plugin is given"));
        let s = surface(WASI, &["wagate:plugin/config@1.0.0", "wagate:plugin/transform@1.0.0"]);
        let err = check(&s, &manifest(&[Hook::Transform, Hook::Bot], &[])).unwrap_err();
        assert!(err.contains("hook 'bot'") && err.contains("'wagate:plugin/bot@1.0.0'"), "{err}");
        let no_config = surface(WASI, &["wagate:plugin/transform@1.0.0"]);
        assert!(check(&no_config, &manifest(&[Hook::Transform], &[])).unwrap_err().contains("config@1.0.0"));
        let foreign = surface(WASI, &["test:nothing/ping@0.1.0"]);
        assert!(check(&foreign, &manifest(&[], &[])).unwrap_err().contains("exports no wagate:plugin interface"));
        let future = surface(WASI, &["wagate:plugin/config@2.0.0"]);
        assert!(check(&future, &manifest(&[], &[])).unwrap_err().contains("@2.0"));
        let mut declared = manifest(&[Hook::Transform], &[]);
        declared.wit = Some("0.3.0".into());
        assert!(check(&s, &declared).unwrap_err().contains("wit = \"0.3.0\""));
    }

    #[test]
    fn the_webhook_hook_needs_a_1_2_component() {
        let m = manifest(&[Hook::Transform, Hook::Webhook], &[]);
        let old = surface(&[], &["wagate:plugin/config@1.1.0", "wagate:plugin/transform@1.1.0"]);
        let err = check(&old, &m).unwrap_err();
        assert!(err.contains("lists the hook 'webhook'") && err.contains("'wagate:plugin/webhook@1.1.0'"), "{err}");
        let new = surface(
            &[],
            &["wagate:plugin/config@1.2.0", "wagate:plugin/transform@1.2.0", "wagate:plugin/webhook@1.2.0"],
        );
        assert_eq!(check(&new, &m), Ok(Contract::V1 { minor: 2 }));
        let v0_3 = surface(&["wagate:plugin/host@0.3.0"], &["wagate:plugin/hooks@0.3.0"]);
        assert!(check(&v0_3, &m).unwrap_err().contains("wagate:plugin@0.3 has not got"));
    }

    #[test]
    fn a_0_3_component_is_recognised_and_checks_capabilities_per_call() {
        let mut imports = WASI.to_vec();
        imports.extend(["wagate:plugin/types@0.3.0", "wagate:plugin/host@0.3.0"]);
        let s = surface(&imports, &["wagate:plugin/hooks@0.3.0"]);
        let mut m = manifest(&[Hook::Transform, Hook::Bot], &[]);
        assert_eq!(check(&s, &m), Ok(Contract::V0_3));
        m.wit = Some("0.3.0".into());
        assert_eq!(check(&s, &m), Ok(Contract::V0_3));
        let old = surface(WASI, &["wagate:plugin/hooks@0.2.0"]);
        assert!(check(&old, &m).unwrap_err().contains("@0.2"));
    }
}
