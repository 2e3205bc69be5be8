//! `wagate plugin new` makes a crate that passes its own tests, builds to a component, and
//! runs in the gateway: the author guide's path (docs/plugins.md), step by step.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::{TestGateway, target_dir};
use serde_json::{Value, json};

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

#[tokio::test]
async fn a_new_plugin_tests_builds_and_runs() {
    let work = tempfile::tempdir().unwrap();
    let out = run(work.path(), env!("CARGO_BIN_EXE_wagate"), &["plugin", "new", "greeter-bot", "--dir", "."]);
    assert!(out.contains("created"), "{out}");
    let crate_dir = work.path().join("greeter-bot");
    for f in ["Cargo.toml", "plugin.toml", "src/lib.rs"] {
        assert!(crate_dir.join(f).exists(), "{f}");
    }
    // Same dependency versions as the gateway's own build, so nothing is fetched anew.
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let tests = run(&crate_dir, "cargo", &["test", "--quiet"]);
    assert!(tests.contains("2 passed"), "{tests}");
    // The command `wagate plugin new` prints and the guide gives.
    let build: Vec<&str> = wagate::scaffold::BUILD_COMMAND.split(' ').collect();
    assert!(out.contains(wagate::scaffold::BUILD_COMMAND), "{out}");
    run(&crate_dir, build[0], &[&build[1..], &["--quiet"]].concat());

    let dir = Arc::new(tempfile::tempdir().unwrap());
    let folder = dir.path().join("plugins/greeter-bot");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(crate_dir.join("plugin.toml"), folder.join("plugin.toml")).unwrap();
    std::fs::copy(target_dir().join("wasm32-wasip2/release/greeter_bot.wasm"), folder.join("greeter_bot.wasm"))
        .unwrap();
    runs_as_a_renaming_transform(dir, "greeter-bot", json!({ "prefix": 5 }), |refusal| {
        assert_eq!(refusal, "invalid config at 'prefix': invalid type: integer `5`, expected a string")
    })
    .await;
}

/// What a new plugin does once built into `dir`'s plugin folder `name`: it loads, `bad` config
/// is refused with a message `refused` checks, and bound with its defaults it renames a
/// session's status event to `<name>:session.status` for the tenant's sockets.
async fn runs_as_a_renaming_transform(dir: Arc<tempfile::TempDir>, name: &str, bad: Value, refused: impl Fn(&str)) {
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let (_, info) = gw.get(&format!("/api/v1/plugins/{name}"), common::ADMIN).await;
    assert_eq!(info["status"], "loaded", "{info}");
    let t = gw.tenant("acme").await;
    let path = format!("/api/v1/tenant/plugins/{name}");
    let bind = |config| gw.call(Method::PUT, &path, Some(&t.api_key), Some(json!({ "config": config })));
    let (s, b) = bind(bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    refused(b["error"]["message"].as_str().unwrap());
    let (s, b) = bind(json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut events = gw.events();
    gw.session(&t, "s1").await;
    let ev = common::until(&mut events, "session.status").await.pop().unwrap();
    let out = gw.gateway.state.plugins.transform(&ev).await;
    assert_eq!(out.deliveries.len(), 1);
    assert_eq!(out.deliveries[0].event, format!("{name}:session.status"));
    assert_eq!(out.deliveries[0].payload["sessionId"], "s1");
}

/// `wagate plugin new --lang ts` makes a TypeScript plugin that the build command it prints
/// turns into a plugin folder, and that runs in the gateway.
#[tokio::test]
async fn a_new_typescript_plugin_builds_and_runs() {
    let work = tempfile::tempdir().unwrap();
    let out =
        run(work.path(), env!("CARGO_BIN_EXE_wagate"), &["plugin", "new", "greeter-ts", "--lang", "ts", "--dir", "."]);
    let next = out.lines().find_map(|l| l.strip_prefix("next: ")).unwrap_or_else(|| panic!("{out}"));
    let build = next.split(' ').next().unwrap();
    let src = work.path().join("greeter-ts");
    for f in ["plugin.toml", "src/plugin.ts", "test/plugin.test.ts", "README.md"] {
        assert!(src.join(f).exists(), "{f}");
    }
    // Its own tests pass under Node against the fake host, with the command it printed.
    let test = out.lines().find_map(|l| l.strip_prefix("test: ")).unwrap_or_else(|| panic!("{out}"));
    let tests = run(&src, test.split(' ').next().unwrap(), &["."]);
    assert!(tests.contains("# pass 2"), "{tests}");
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let folder = dir.path().join("plugins/greeter-ts");
    run(&src, build, &[".", folder.to_str().unwrap()]);
    runs_as_a_renaming_transform(dir, "greeter-ts", json!({ "prefix": "" }), |refusal| {
        assert!(refusal.contains("invalid config at 'prefix'"), "{refusal}")
    })
    .await;
}
