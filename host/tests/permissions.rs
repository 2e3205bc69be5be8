//! The REST permission matrix: every route of docs/auth.md's table, called with each kind of
//! credential, answers as the table says. The table is read from the document itself, so the
//! two cannot drift apart; a route missing from it fails the test too.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{ADMIN, TestGateway, install_plugin};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    Yes,
    No,
    /// Allowed when the tenant's sessionAccess gives the user the session, else 404.
    Session,
    /// Allowed while sessionAccess is `all`.
    All,
}

struct Row {
    method: Method,
    path: String,
    rules: [Rule; 5],
}

const COLUMNS: [&str; 5] = ["admin key", "tenant API key", "user token", "user admin", "other tenant"];

fn table() -> Vec<Row> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/auth.md")).unwrap();
    let start = doc.find("| route | admin key |").expect("the REST table in docs/auth.md");
    doc[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let (method, path) = cells[0].trim_matches('`').split_once(' ').unwrap();
            let rule = |c: &str| match c {
                "yes" => Rule::Yes,
                "no" => Rule::No,
                "session" => Rule::Session,
                "all" => Rule::All,
                other => panic!("unknown rule '{other}' in {line}"),
            };
            Row {
                method: method.parse().unwrap(),
                path: path.to_owned(),
                rules: [rule(cells[1]), rule(cells[2]), rule(cells[3]), rule(cells[4]), rule(cells[5])],
            }
        })
        .collect()
}

/// A request body that gets past validation where that is easy; permissions are checked
/// before bodies are, so a 422 still means "allowed".
fn body(method: &Method, path: &str) -> Option<Value> {
    let b = match (method.as_str(), path) {
        ("POST", "/api/v1/tenants") => json!({ "name": "Another" }),
        ("PATCH", "/api/v1/tenants/{tenant}") => json!({ "name": "Acme" }),
        ("POST", "/api/v1/tokens") => json!({ "sub": "someone" }),
        ("PATCH", "/api/v1/tenant") => json!({ "sessionAccess": "all" }),
        ("PUT", "/api/v1/sessions/{session}/messages/{message}/reaction") => json!({ "emoji": "👍" }),
        ("PUT", "/api/v1/sessions/{session}/queue") => json!({ "perMinute": 30 }),
        ("PATCH", "/api/v1/sessions/{session}/messages/{message}") => json!({ "text": "edited" }),
        ("POST", "/api/v1/sessions/{session}/presence") => json!({ "presence": "available" }),
        ("POST", "/api/v1/sessions/{session}/contacts/check") => json!({ "numbers": ["+15551112222"] }),
        ("POST", "/api/v1/sim/sessions/{session}/contacts") => json!({ "number": "+15551112222", "about": "hi" }),
        ("POST", "/api/v1/sessions/{session}/chats/{chat}/presence") => json!({ "state": "composing" }),
        ("POST", "/api/v1/sessions/{session}/groups") => json!({ "subject": "Team" }),
        ("POST", "/api/v1/sessions/{session}/groups/join") => json!({ "invite": "AbCdEf123" }),
        ("PATCH", "/api/v1/sessions/{session}/groups/{group}") => json!({ "subject": "Team" }),
        ("POST", "/api/v1/sessions/{session}/groups/{group}/participants") => {
            json!({ "action": "add", "participants": ["+15551112222"] })
        }
        ("POST", "/api/v1/sim/sessions/{session}/groups") => json!({ "owner": "+15559990000", "subject": "Theirs" }),
        ("POST", "/api/v1/sim/sessions/{session}/groups/{group}/participants") => {
            json!({ "by": "+15559990000", "action": "add", "participants": ["+15551112222"] })
        }
        ("POST", "/api/v1/sim/sessions/{session}/groups/{group}/settings") => {
            json!({ "by": "+15559990000", "subject": "Theirs" })
        }
        ("POST", "/api/v1/sim/sessions/{session}/reaction") => {
            json!({ "from": "+15559990000", "waMessageId": "3EB0X", "emoji": "👍" })
        }
        ("POST", "/api/v1/sim/sessions/{session}/edit") => {
            json!({ "from": "+15559990000", "waMessageId": "3EB0X", "text": "edited" })
        }
        ("POST", "/api/v1/sim/sessions/{session}/revoke") => json!({ "from": "+15559990000", "waMessageId": "3EB0X" }),
        ("POST", "/api/v1/sim/sessions/{session}/vote") => {
            json!({ "from": "+15559990000", "waMessageId": "3EB0X", "options": ["a"] })
        }
        // Disabled: relay's auth hook would otherwise reshape the user tokens of later rows.
        ("PUT", _) => json!({ "config": {}, "enabled": false }),
        ("POST", "/api/v1/sessions/{session}/messages") => json!({ "to": "+15551112222", "text": "hi" }),
        ("POST", "/api/v1/sim/sessions/{session}/inbound") => json!({ "from": "+15559990000", "text": "x" }),
        ("POST", "/api/v1/sim/sessions/{session}/invalid-numbers") => json!({ "numbers": ["+15550000009"] }),
        ("POST", "/api/v1/sim/sessions/{session}/pair") => json!({ "code": "ABCDEFGH" }),
        ("POST", "/api/v1/webhooks") => json!({ "url": "http://127.0.0.1:9/hook" }),
        ("PATCH", "/api/v1/webhooks/{webhook}") => json!({ "description": "changed" }),
        ("POST", "/api/v1/webhooks/{webhook}/replay") => json!({ "fromSeq": 1 }),
        ("POST", "/api/v1/webhooks/{webhook}/rotate") => json!({ "overlapSecs": 60 }),
        ("POST", p) if p.ends_with("/rotate") => json!({ "jwtSecret": true }),
        ("POST", _) => json!({}),
        _ => return None,
    };
    Some(b)
}

struct Fixture {
    gw: TestGateway,
    creds: [String; 5],
    message: String,
    chat: String,
    webhook: String,
    delivery: String,
}

async fn fixture() -> Fixture {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    install_plugin(&dir.path().join("plugins"), "relay", "relay", |t| t);
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let acme = gw.tenant("acme").await;
    let other = gw.tenant("other").await;
    gw.connected_session(&acme, "s1", "+15550000001").await;
    gw.post("/api/v1/sim/sessions/s1/inbound", &acme.api_key, json!({ "from": "+15559990000", "text": "hello" })).await;
    let (_, sent) =
        gw.post("/api/v1/sessions/s1/messages", &acme.api_key, json!({ "to": "+15559990000", "text": "hi" })).await;
    let message = sent["id"].as_str().unwrap().to_owned();
    let chat = sent["chatId"].as_str().unwrap().to_owned();
    let mint = |claims: Value| {
        let gw = &gw;
        let key = acme.api_key.clone();
        async move {
            let (s, b) = gw.post("/api/v1/tokens", &key, json!({ "sub": "u1", "claims": claims })).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            b["token"].as_str().unwrap().to_owned()
        }
    };
    let user = mint(json!({})).await;
    let user_admin = mint(json!({ "roles": ["admin"] })).await;
    let creds = [ADMIN.to_owned(), acme.api_key.clone(), user, user_admin, other.api_key.clone()];
    let (s, hook) = gw.post("/api/v1/webhooks", &acme.api_key, json!({ "url": "http://127.0.0.1:9/hook" })).await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let webhook = hook["id"].as_str().unwrap().to_owned();
    let (s, tried) = gw.post(&format!("/api/v1/webhooks/{webhook}/test"), &acme.api_key, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{tried}");
    let delivery = tried["id"].as_str().unwrap().to_owned();
    Fixture { gw, creds, message, chat, webhook, delivery }
}

impl Fixture {
    fn path(&self, template: &str) -> String {
        template
            .replace("{tenant}", "acme")
            .replace("{plugin}", "relay")
            .replace("{session}", "s1")
            .replace("{message}", &self.message)
            .replace("{chat}", &self.chat)
            .replace("{contact}", "+15559990000")
            .replace("{group}", "120363000000000001")
            .replace("{webhook}", &self.webhook)
            .replace("{delivery}", &self.delivery)
    }

    async fn call(&self, row: &Row, cred: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(row.method.clone())
            .uri(self.path(&row.path))
            .header("authorization", format!("Bearer {cred}"));
        let req = match body(&row.method, &row.path) {
            Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        match row.path.as_str() {
            "/api/v1/events/stream" => self.gw.send_head(req.unwrap()).await,
            _ => self.gw.send(req.unwrap()).await,
        }
    }
}

/// Whether an answer is a refusal of the caller (rather than success or a complaint about
/// the request itself).
fn refused(status: StatusCode, body: &Value) -> bool {
    let code = body["error"]["code"].as_str().unwrap_or_default();
    status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || (status == StatusCode::NOT_FOUND && matches!(code, "session_not_found" | "route_not_found" | "webhook_not_found"))
}

#[tokio::test]
async fn every_route_with_every_credential_answers_as_docs_auth_md_says() {
    let rows = table();
    // Every documented route of the gateway has a row, and every row is a route.
    let documented: BTreeSet<String> = wagate::api::openapi()
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            let methods = [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ];
            methods.into_iter().filter(|(_, has)| *has).map(move |(m, _)| format!("{m} {path}"))
        })
        .map(|r| {
            r.replace("{id}", "{session}")
                .replace("{messageId}", "{message}")
                .replace("{chatId}", "{chat}")
                .replace("{name}", "{plugin}")
        })
        .map(|r| if r.contains("/tenants/") { r.replace("{session}", "{tenant}") } else { r })
        .collect();
    let tabled: BTreeSet<String> = rows.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    let undocumented: Vec<_> = documented.difference(&tabled).collect();
    assert!(undocumented.is_empty(), "routes without a row in docs/auth.md: {undocumented:?}");

    for (col, name) in COLUMNS.iter().enumerate() {
        let f = fixture().await;
        for row in &rows {
            let (status, body) = f.call(row, &f.creds[col]).await;
            let expect_allowed = match row.rules[col] {
                Rule::Yes | Rule::Session | Rule::All => true,
                Rule::No => false,
            };
            assert_eq!(
                !refused(status, &body),
                expect_allowed,
                "{} {} with the {name}: {status} {body}",
                row.method,
                row.path
            );
            assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "{} {}: {body}", row.method, row.path);
        }
    }
}

/// The `session` and `all` rows with a user token, under `owned` and `listed`.
#[tokio::test]
async fn session_rows_follow_the_tenants_session_access() {
    let rows: Vec<Row> = table().into_iter().filter(|r| matches!(r.rules[2], Rule::Session | Rule::All)).collect();
    assert!(rows.len() >= 9);
    let f = fixture().await;
    let key = &f.creds[1];
    let set = |access: &'static str| {
        let gw = &f.gw;
        let body = json!({ "sessionAccess": access });
        async move {
            let (s, b) = gw.call(Method::PATCH, "/api/v1/tenant", Some(key), Some(body)).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            assert_eq!(b["sessionAccess"], access);
        }
    };
    let mint = |sub: &'static str, claims: Value| {
        let gw = &f.gw;
        let body = json!({ "sub": sub, "claims": claims });
        async move { gw.post("/api/v1/tokens", key, body).await.1["token"].as_str().unwrap().to_owned() }
    };
    // s1 has no owner: under `owned` nobody but administrators may use it.
    set("owned").await;
    let stranger = mint("u1", json!({})).await;
    for row in &rows {
        let (status, body) = f.call(row, &stranger).await;
        assert!(refused(status, &body), "owned, {} {}: {status} {body}", row.method, row.path);
        if row.rules[2] == Rule::Session {
            assert_eq!(body["error"]["code"], "session_not_found", "{} {}", row.method, row.path);
        }
    }
    let (_, listed) = f.gw.get("/api/v1/sessions", &stranger).await;
    assert_eq!(listed, json!([]), "the list holds only usable sessions");
    // An owned session is usable by its owner.
    let (s, _) = f.gw.post("/api/v1/sessions", key, json!({ "id": "mine", "owner": "ana" })).await;
    assert_eq!(s, StatusCode::CREATED);
    let ana = mint("ana", json!({})).await;
    let (s, b) = f.gw.get("/api/v1/sessions/mine", &ana).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, listed) = f.gw.get("/api/v1/sessions", &ana).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // `listed`: the token's `sessions` claim names what it may use.
    set("listed").await;
    let (s, _) = f.gw.get("/api/v1/sessions/mine", &ana).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "ownership alone no longer counts");
    let agent = mint("agent", json!({ "sessions": ["s1"] })).await;
    for row in rows.iter().filter(|r| r.rules[2] == Rule::Session) {
        let (status, body) = f.call(row, &agent).await;
        assert!(!refused(status, &body), "listed, {} {}: {status} {body}", row.method, row.path);
    }
    let (_, stats) = f.gw.get("/api/v1/stats", &agent).await;
    assert_eq!(stats["error"]["code"], "forbidden", "stats span sessions the user may not see");
    // Back to `all`: every user may use every session again.
    set("all").await;
    let (s, _) = f.gw.get("/api/v1/sessions/s1", &stranger).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn an_auth_plugin_refusal_holds_on_rest_too() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    install_plugin(&dir.path().join("plugins"), "relay", "relay", |t| t);
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let t = gw.tenant("acme").await;
    let (s, b) =
        gw.call(Method::PUT, "/api/v1/tenant/plugins/relay", Some(&t.api_key), Some(json!({ "config": {} }))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let token = |claims: Value| {
        let gw = &gw;
        let key = t.api_key.clone();
        let body = json!({ "sub": "u1", "claims": claims });
        async move { gw.post("/api/v1/tokens", &key, body).await.1["token"].as_str().unwrap().to_owned() }
    };
    // The relay test plugin refuses identities whose claims say `blocked`.
    let mallory = token(json!({ "blocked": true })).await;
    let (s, b) = gw.get("/api/v1/sessions", &mallory).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
    assert_eq!(b["error"]["code"], "refused");
    assert_eq!(b["error"]["message"], "blocked by relay");
    let (s, _) = gw.get("/api/v1/sessions", &token(json!({})).await).await;
    assert_eq!(s, StatusCode::OK);
}
