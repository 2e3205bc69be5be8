//! `wagate plugin new NAME`: a new plugin crate that builds, tests and loads as it is.

use std::path::{Path, PathBuf};


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

/// The build command for a plugin component. `--crate-type cdylib`: a plugin is also an rlib
/// (native tests), and cargo performs no LTO for a crate that builds an rlib.
pub const BUILD_COMMAND: &str = "cargo rustc --release --target wasm32-wasip2 --crate-type cdylib";

/// The checkout's own flags for plugin components (the inline threshold), copied into a
/// standalone crate, which does not see the checkout's `.cargo/config.toml`.
const WASM_RUSTFLAGS: &str = include_str!("../../.cargo/config.toml");

const STANDALONE_PROFILE: &str = r#"
# Whole-program optimisation makes a transform ~11% faster (docs/plugins.md, "Speed").
[profile.release]
lto = true
codegen-units = 1
"#;

/// The crate `plugin new` writes (`host/templates/plugin/`), with `{{name}}`, `{{Type}}`,
/// `{{sdk}}` and `{{profile}}` filled in. (The contract version is the SDK's, recorded in the
/// component it builds: plugin.toml does not repeat it.)
const TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../templates/plugin/Cargo.toml")),
    ("plugin.toml", include_str!("../templates/plugin/plugin.toml")),
    ("src/lib.rs", include_str!("../templates/plugin/src/lib.rs")),
];

/// Where this build's TypeScript plugin build script is, when the checkout is still on disk.
pub fn default_ts_build_script() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-ts-plugin.sh");
    p.exists().then(|| p.canonicalize().unwrap_or(p))
}

/// The folder `plugin new --lang ts` writes (`host/templates/plugin-ts/`), with `{{name}}`,
/// `{{build}}` (the build script) and `{{test}}` (the test script) filled in.
const TS_TEMPLATE: &[(&str, &str)] = &[
    ("plugin.toml", include_str!("../templates/plugin-ts/plugin.toml")),
    ("src/plugin.ts", include_str!("../templates/plugin-ts/src/plugin.ts")),
    ("test/plugin.test.ts", include_str!("../templates/plugin-ts/test/plugin.test.ts")),
    ("README.md", include_str!("../templates/plugin-ts/README.md")),
];

/// Writes a TypeScript plugin folder `<parent>/<name>/` and returns its path.
pub fn new_ts_plugin(parent: &Path, name: &str, build: &Path) -> Result<PathBuf, String> {
    crate::model::validate_id(name).map_err(|e| format!("plugin name: {e}"))?;
    let dir = parent.join(name);
    if dir.exists() {
        return Err(format!("{} already exists", dir.display()));
    }
    let build = build.display().to_string();
    let test = build.replace("build-ts-plugin.sh", "test-ts-plugin.sh");
    let fill = |text: &str| text.replace("{{name}}", name).replace("{{build}}", &build).replace("{{test}}", &test);
    write_files(&dir, TS_TEMPLATE.iter().map(|(file, text)| (*file, fill(text))))?;
    Ok(dir)
}

fn write_files<'f>(dir: &Path, files: impl IntoIterator<Item = (&'f str, String)>) -> Result<(), String> {
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("has a parent")).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Whether a crate made in `parent` would be a member of an enclosing cargo workspace.
fn in_workspace(parent: &Path) -> bool {
    let parent = parent.canonicalize().unwrap_or_else(|_| parent.to_path_buf());
    parent.ancestors().any(|dir| {
        std::fs::read_to_string(dir.join("Cargo.toml"))
            .is_ok_and(|toml| toml.lines().any(|l| l.trim() == "[workspace]"))
    })
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
    // Inside a workspace (say `plugins/` of a wagate checkout) cargo ignores a member's
    // profiles and warns; a standalone crate needs its own to get whole-program optimisation.
    let standalone = !in_workspace(parent);
    let profile = if standalone { STANDALONE_PROFILE } else { "" };
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{Type}}", &ty)
            .replace("{{sdk}}", &sdk)
            .replace("{{profile}}", profile)
    };
    let mut files: Vec<(&str, String)> = TEMPLATE.iter().map(|(file, text)| (*file, fill(text))).collect();
    if standalone {
        files.push((".cargo/config.toml", WASM_RUSTFLAGS.to_owned()));
    }
    write_files(&dir, files)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn only_a_standalone_crate_gets_its_own_profile() {
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(super::in_workspace(&checkout.join("plugins")));
        let alone = tempfile::tempdir().unwrap();
        assert!(!super::in_workspace(alone.path()));
        let sdk = checkout.join("plugin-sdk");
        let made = super::new_plugin(alone.path(), "solo", &sdk).unwrap();
        let toml = std::fs::read_to_string(made.join("Cargo.toml")).unwrap();
        assert!(toml.contains("[profile.release]\nlto = true"), "{toml}");
        let flags = std::fs::read_to_string(made.join(".cargo/config.toml")).unwrap();
        assert!(flags.contains("inline-threshold"), "{flags}");
        let workspace = tempfile::tempdir().unwrap();
        std::fs::write(workspace.path().join("Cargo.toml"), "[workspace]\nmembers = [\"plugins/*\"]\n").unwrap();
        std::fs::create_dir(workspace.path().join("plugins")).unwrap();
        let member = super::new_plugin(&workspace.path().join("plugins"), "member", &sdk).unwrap();
        assert!(!std::fs::read_to_string(member.join("Cargo.toml")).unwrap().contains("[profile"));
        assert!(!member.join(".cargo").exists());
    }

    #[test]
    fn every_placeholder_is_filled() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk");
        let made = super::new_plugin(dir.path(), "my-bot", &sdk).unwrap();
        for file in ["Cargo.toml", "plugin.toml", "src/lib.rs"] {
            let text = std::fs::read_to_string(made.join(file)).unwrap();
            assert!(!text.contains("{{"), "{file} keeps a placeholder:\n{text}");
        }
        let lib = std::fs::read_to_string(made.join("src/lib.rs")).unwrap();
        assert!(lib.contains("impl Plugin for MyBot"));
    }

    #[test]
    fn a_typescript_plugin_has_every_placeholder_filled() {
        let dir = tempfile::tempdir().unwrap();
        let made = super::new_ts_plugin(dir.path(), "ts-bot", Path::new("/w/scripts/build-ts-plugin.sh")).unwrap();
        for file in ["plugin.toml", "src/plugin.ts", "test/plugin.test.ts", "README.md"] {
            let text = std::fs::read_to_string(made.join(file)).unwrap();
            assert!(!text.contains("{{"), "{file} keeps a placeholder:\n{text}");
        }
        let readme = std::fs::read_to_string(made.join("README.md")).unwrap();
        assert!(readme.contains("/w/scripts/build-ts-plugin.sh . "), "{readme}");
        assert!(readme.contains("/w/scripts/test-ts-plugin.sh ."), "{readme}");
        assert!(super::new_ts_plugin(dir.path(), "ts-bot", Path::new("b")).unwrap_err().contains("already exists"));
    }

    #[test]
    fn type_names() {
        assert_eq!(super::type_name("auto-reply"), "AutoReply");
        assert_eq!(super::type_name("greeter"), "Greeter");
    }
}
