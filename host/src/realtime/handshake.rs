use std::sync::Arc;

use http::request::Parts;
use serde_json::Value;
use socketioxide::extract::{SocketRef, State, TryData};

use super::Realtime;
use crate::auth::{AuthError, Identity};

/// Connect middleware: a failure here reaches the client as `connect_error` with the error's
/// text as `err.message`.
pub(super) async fn authenticate(
    s: SocketRef,
    TryData(auth): TryData<Value>,
    State(rt): State<Realtime>,
) -> Result<(), AuthError> {
    let identity = match find_token(auth.ok().as_ref(), s.req_parts(), &rt.token_cookie) {
        Some(token) => rt.directory.verify(&token, rt.leeway_secs)?,
        None => match &rt.dev_no_auth_tenant {
            Some(tenant) if rt.directory.contains(tenant) => {
                Identity::new(tenant.clone(), Some("anonymous".into()), Value::Object(Default::default()))
            }
            Some(_) => return Err(AuthError::UnknownTenant),
            None => return Err(AuthError::MissingToken),
        },
    };
    let identity = rt.plugins.map_auth(identity).await.map_err(AuthError::Refused)?;
    s.extensions.insert(Arc::new(identity));
    Ok(())
}

fn strip_bearer(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).unwrap_or(v).trim()
}

/// The four places seed 004's client may put a token, in its own order of preference:
/// `auth.token`, `auth.authorization`, the `token` query parameter, the `Authorization` header;
/// then the cookie a browser sends by itself (seed 002's client passes no token at all).
fn find_token(auth: Option<&Value>, parts: &Parts, cookie: &str) -> Option<String> {
    let from_auth = |field: &str| {
        auth.and_then(|a| a.get(field)).and_then(Value::as_str).map(strip_bearer).filter(|t| !t.is_empty())
    };
    if let Some(t) = from_auth("token").or_else(|| from_auth("authorization")) {
        return Some(t.to_owned());
    }
    let from_query = parts.uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes()).find(|(k, v)| k == "token" && !v.is_empty()).map(|(_, v)| v.into_owned())
    });
    if from_query.is_some() {
        return from_query;
    }
    let from_header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .map(strip_bearer)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    from_header.or_else(|| from_cookie(parts, cookie))
}

fn from_cookie(parts: &Parts, name: &str) -> Option<String> {
    parts.headers.get_all(http::header::COOKIE).iter().filter_map(|h| h.to_str().ok()).find_map(|line| {
        line.split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            let v = v.trim().trim_matches('"');
            (k == name && !v.is_empty()).then(|| v.to_owned())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts(uri: &str, header: Option<&str>) -> Parts {
        let mut b = http::Request::builder().uri(uri).header("cookie", "theme=dark; token=c");
        if let Some(h) = header {
            b = b.header("authorization", h);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn find_token(auth: Option<&Value>, parts: &Parts) -> Option<String> {
        super::find_token(auth, parts, "token")
    }

    #[test]
    fn token_locations_in_order() {
        let p = parts("/socket.io/?EIO=4&token=q", Some("Bearer h"));
        assert_eq!(find_token(Some(&json!({"token": "a"})), &p).as_deref(), Some("a"));
        assert_eq!(find_token(Some(&json!({"authorization": "Bearer b"})), &p).as_deref(), Some("b"));
        assert_eq!(find_token(Some(&json!({})), &p).as_deref(), Some("q"));
        assert_eq!(find_token(None, &parts("/socket.io/?EIO=4", Some("Bearer h"))).as_deref(), Some("h"));
        assert_eq!(find_token(Some(&json!({"token": ""})), &parts("/socket.io/", None)).as_deref(), Some("c"));
        assert_eq!(super::find_token(None, &parts("/socket.io/", None), "jwt"), None);
    }
}
