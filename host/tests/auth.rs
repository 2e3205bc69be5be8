//! Tenant auth on REST: API keys and user JWTs (HS256 with the tenant secret, RS256/ES256
//! with a configured public key), every refusal with its reason, and tenant isolation.

mod common;

use axum::http::{Method, StatusCode};
use common::{ADMIN, TestGateway};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn sign(alg: Algorithm, key: &EncodingKey, claims: Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), &claims, key).unwrap()
}

fn hs(secret: &str, claims: Value) -> String {
    sign(Algorithm::HS256, &EncodingKey::from_secret(secret.as_bytes()), claims)
}

#[tokio::test]
async fn api_key_and_minted_tokens_work_on_tenant_routes() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.session(&t, "s1").await;

    let (s, b) = gw
        .post(
            "/api/v1/tokens",
            &t.api_key,
            json!({ "sub": "user-1", "claims": { "role": "agent" }, "ttlSeconds": 120 }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let token = b["token"].as_str().unwrap().to_owned();
    assert!(b["expiresAt"].is_string());
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&token).unwrap();
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["role"], "agent");
    assert!(claims["exp"].as_i64().unwrap() - now() <= 121);

    let (s, b) = gw.get("/api/v1/sessions", &token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b[0]["id"], "s1");

    // Only the API key may mint.
    let (s, b) = gw.post("/api/v1/tokens", &token, json!({ "sub": "x" })).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(b["error"]["code"], "api_key_required");
    // Registered claims and the tenant claim cannot be forged through `claims`.
    for claim in ["exp", "tenant", "sub"] {
        let (s, b) = gw.post("/api/v1/tokens", &t.api_key, json!({ "sub": "x", "claims": { claim: "y" } })).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{claim}");
        assert_eq!(b["error"]["code"], "reserved_claim");
    }
    let (s, b) = gw.post("/api/v1/tokens", &t.api_key, json!({ "sub": "x", "ttlSeconds": 0 })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "invalid_ttl");
    let (s, _) = gw.post("/api/v1/tokens", &t.api_key, json!({ "sub": "" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn tokens_signed_by_the_tenants_backend_and_every_refusal() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    let other = gw.tenant("other").await;
    let ok = hs(&t.jwt_secret, json!({ "sub": "u1", "tenant": "acme", "exp": now() + 60 }));
    assert_eq!(gw.get("/api/v1/sessions", &ok).await.0, StatusCode::OK);

    let cases = [
        (hs(&t.jwt_secret, json!({ "sub": "u1", "tenant": "acme", "exp": now() - 120 })), "token_expired"),
        (
            hs(&t.jwt_secret, json!({ "sub": "u1", "tenant": "acme", "exp": now() + 600, "nbf": now() + 300 })),
            "token_not_yet_valid",
        ),
        (hs(&other.jwt_secret, json!({ "sub": "u1", "tenant": "acme", "exp": now() + 60 })), "invalid_token"),
        (hs(&t.jwt_secret, json!({ "sub": "u1", "tenant": "ghost", "exp": now() + 60 })), "invalid_token"),
        (hs(&t.jwt_secret, json!({ "sub": "u1", "exp": now() + 60 })), "no_tenant_claim"),
        (hs(&t.jwt_secret, json!({ "sub": "u1", "tenant": "acme" })), "malformed_token"),
        ("a.b.c".to_owned(), "malformed_token"),
    ];
    for (token, code) in cases {
        let (s, b) = gw.get("/api/v1/sessions", &token).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{code}");
        assert_eq!(b["error"]["code"], code, "{b}");
    }
    // An RS256 token is refused while the tenant has no public key.
    let rsa = EncodingKey::from_rsa_pem(include_bytes!("fixtures/rsa_private.pem")).unwrap();
    let (s, b) = gw
        .get(
            "/api/v1/sessions",
            &sign(Algorithm::RS256, &rsa, json!({ "sub": "u", "tenant": "acme", "exp": now() + 60 })),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["error"]["code"], "invalid_token");
    let (s, b) = gw.call(Method::GET, "/api/v1/sessions", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["error"]["code"], "missing_token");

    // A `crit` header names extensions this verifier cannot honour: refused, even when the
    // signature is good.
    let mut header = Header::new(Algorithm::HS256);
    header.crit = Some(vec!["exp".into()]);
    let claims = json!({ "sub": "u1", "tenant": "acme", "exp": now() + 60 });
    let crit = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(t.jwt_secret.as_bytes())).unwrap();
    let (s, b) = gw.get("/api/v1/sessions", &crit).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["error"]["code"], "malformed_token");
    assert!(b["error"]["message"].as_str().unwrap().contains("crit"), "{b}");
}

#[tokio::test]
async fn secret_dependent_refusals_read_the_same() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    let keyed = gw.tenant("keyed").await;
    let patch = json!({ "jwt": { "publicKeyPem": include_str!("fixtures/rsa_public.pem") } });
    assert_eq!(gw.call(Method::PATCH, "/api/v1/tenants/keyed", Some(ADMIN), Some(patch)).await.0, StatusCode::OK);
    let rsa = EncodingKey::from_rsa_pem(include_bytes!("fixtures/rsa_private.pem")).unwrap();
    let claims = |tenant: &str| json!({ "sub": "u", "tenant": tenant, "exp": now() + 60 });
    // Existing tenant + wrong secret, missing tenant, a tenant with and one without a public
    // key: an outsider cannot tell any of them apart.
    let probes = [
        hs("guess", claims("acme")),
        hs("guess", claims("ghost")),
        hs(&keyed.jwt_secret, claims(&t.id)),
        sign(Algorithm::RS256, &rsa, claims("acme")),
        sign(
            Algorithm::ES256,
            &EncodingKey::from_ec_pem(include_bytes!("fixtures/ec_private.pem")).unwrap(),
            claims("keyed"),
        ),
        sign(
            Algorithm::RS256,
            &EncodingKey::from_rsa_pem(include_bytes!("fixtures/rsa_private.pem")).unwrap(),
            claims("ghost"),
        ),
    ];
    let answers: Vec<(StatusCode, Value)> = {
        let mut v = Vec::new();
        for p in &probes {
            v.push(gw.get("/api/v1/sessions", p).await);
        }
        v
    };
    for (s, b) in &answers {
        assert_eq!(*s, StatusCode::UNAUTHORIZED);
        assert_eq!(b, &answers[0].1, "every probe gets the same body");
    }
    assert_eq!(answers[0].1["error"]["code"], "invalid_token");
}

#[tokio::test]
async fn public_key_tokens_with_issuer_audience_and_custom_tenant_claim() {
    let gw = TestGateway::start().await;
    gw.tenant("acme").await;
    let patch = json!({ "jwt": {
        "publicKeyPem": include_str!("fixtures/rsa_public.pem"),
        "issuer": "https://auth.acme.test", "audience": "wagate", "tenantClaim": "subscriptionId" } });
    let (s, b) = gw.call(Method::PATCH, "/api/v1/tenants/acme", Some(ADMIN), Some(patch)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let rsa = EncodingKey::from_rsa_pem(include_bytes!("fixtures/rsa_private.pem")).unwrap();
    let good = json!({ "sub": "u1", "subscriptionId": "acme", "iss": "https://auth.acme.test", "aud": "wagate", "exp": now() + 60 });
    assert_eq!(gw.get("/api/v1/sessions", &sign(Algorithm::RS256, &rsa, good.clone())).await.0, StatusCode::OK);

    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("https://evil.test");
    let (_, b) = gw.get("/api/v1/sessions", &sign(Algorithm::RS256, &rsa, wrong_iss)).await;
    assert_eq!(b["error"]["code"], "wrong_issuer");
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("someone-else");
    let (_, b) = gw.get("/api/v1/sessions", &sign(Algorithm::RS256, &rsa, wrong_aud)).await;
    assert_eq!(b["error"]["code"], "wrong_audience");
    // A configured issuer and audience are required: a token that leaves them out is refused.
    for (claim, code) in [("iss", "wrong_issuer"), ("aud", "wrong_audience")] {
        let mut without = good.clone();
        without.as_object_mut().unwrap().remove(claim);
        let (s, b) = gw.get("/api/v1/sessions", &sign(Algorithm::RS256, &rsa, without)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{claim}: {b}");
        assert_eq!(b["error"]["code"], code, "{claim}: {b}");
    }
    // The default claim name no longer identifies this tenant; the error names the one that does.
    let mut old_claim = good.clone();
    old_claim.as_object_mut().unwrap().remove("subscriptionId");
    old_claim["tenant"] = json!("acme");
    let (_, b) = gw.get("/api/v1/sessions", &sign(Algorithm::RS256, &rsa, old_claim)).await;
    assert_eq!(b["error"]["code"], "no_tenant_claim");
    assert!(b["error"]["message"].as_str().unwrap().contains("subscriptionId"), "{b}");

    // ES256 with an EC key.
    let (s, _) = gw
        .call(
            Method::PATCH,
            "/api/v1/tenants/acme",
            Some(ADMIN),
            Some(json!({ "jwt": { "publicKeyPem": include_str!("fixtures/ec_public.pem") } })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let ec = EncodingKey::from_ec_pem(include_bytes!("fixtures/ec_private.pem")).unwrap();
    assert_eq!(gw.get("/api/v1/sessions", &sign(Algorithm::ES256, &ec, good.clone())).await.0, StatusCode::OK);
    // ...and now RS256 is the wrong family.
    let (_, b) = gw.get("/api/v1/sessions", &sign(Algorithm::RS256, &rsa, good)).await;
    assert_eq!(b["error"]["code"], "invalid_token");
}

#[tokio::test]
async fn no_rest_call_crosses_tenants() {
    let gw = TestGateway::start().await;
    let a = gw.tenant("a").await;
    let b = gw.tenant("b").await;
    gw.connected_session(&a, "wa", "+15550000001").await;
    gw.post("/api/v1/sim/sessions/wa/inbound", &a.api_key, json!({ "from": "+15559990000", "text": "secret" })).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (_, chats) = gw.get("/api/v1/sessions/wa/chats", &a.api_key).await;
    let chat_id = chats[0]["id"].as_str().unwrap().to_owned();

    let token_b = hs(&b.jwt_secret, json!({ "sub": "mallory", "tenant": "b", "exp": now() + 60 }));
    for (cred, admin) in [(&b.api_key, true), (&token_b, false)] {
        // An administering route refuses a user token before it looks at the session (403);
        // everything else answers as for a missing session (404). Neither tells about `a`.
        let refused = if admin { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
        for path in [
            "/api/v1/sessions/wa".to_owned(),
            "/api/v1/sessions/wa/qr".to_owned(),
            "/api/v1/sessions/wa/chats".to_owned(),
            format!("/api/v1/sessions/wa/chats/{chat_id}"),
            format!("/api/v1/sessions/wa/chats/{chat_id}/messages"),
        ] {
            let (s, body) = gw.get(&path, cred).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {body}");
        }
        let (s, resp) =
            gw.post("/api/v1/sessions/wa/messages", cred, json!({ "to": "+15551112222", "text": "x" })).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{resp}");
        for (path, body) in [
            ("/api/v1/sessions/wa/disconnect", json!({})),
            ("/api/v1/sessions/wa/logout", json!({})),
            ("/api/v1/sessions/wa/connect", json!({})),
            ("/api/v1/sim/sessions/wa/inbound", json!({ "from": "+15551112222", "text": "x" })),
            ("/api/v1/sim/sessions/wa/drop", json!({})),
        ] {
            let (s, resp) = gw.post(path, cred, body).await;
            assert_eq!(s, refused, "{path}: {resp}");
        }
        let (s, _) = gw.post(&format!("/api/v1/sessions/wa/chats/{chat_id}/read"), cred, json!({})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = gw.call(Method::DELETE, "/api/v1/sessions/wa", Some(cred), None).await;
        assert_eq!(s, refused);
    }
    // Tenant a's session is untouched.
    let s = gw.status_of(&a, "wa").await;
    assert_eq!(s["status"], "CONNECTED");
    let (_, chats) = gw.get("/api/v1/sessions/wa/chats", &a.api_key).await;
    assert_eq!(chats[0]["unreadCount"], 1);
}

#[tokio::test]
async fn a_rotated_api_key_keeps_working_for_its_grace_period_only() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    let (s, b) = gw.post("/api/v1/tenant/rotate", &t.api_key, json!({ "apiKey": true, "graceSeconds": 60 })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let new_key = b["apiKey"].as_str().unwrap().to_owned();
    assert!(b["jwtSecret"].is_null());
    assert_eq!(gw.get("/api/v1/sessions", &t.api_key).await.0, StatusCode::OK, "old key within its grace");
    assert_eq!(gw.get("/api/v1/sessions", &new_key).await.0, StatusCode::OK);
    // Rotating again without grace retires the previous key (the one from before) at once,
    // and the key being replaced now gets no grace either.
    let (_, b) = gw.post("/api/v1/tenant/rotate", &new_key, json!({ "apiKey": true })).await;
    let newest = b["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(gw.get("/api/v1/sessions", &t.api_key).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(gw.get("/api/v1/sessions", &new_key).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(gw.get("/api/v1/sessions", &newest).await.0, StatusCode::OK);
    // Bad requests change nothing.
    let (s, b) = gw.post("/api/v1/tenant/rotate", &newest, json!({})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("nothing_to_rotate")));
    let (s, _) = gw.post("/api/v1/tenant/rotate", &newest, json!({ "apiKey": true, "graceSeconds": 999999999 })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(gw.get("/api/v1/sessions", &newest).await.0, StatusCode::OK);
}
