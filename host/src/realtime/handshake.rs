use std::sync::Arc;

use http::request::Parts;
use serde_json::Value;
use socketioxide::extract::{SocketRef, State, TryData};

use super::Realtime;
use crate::auth::{AuthError, Identity};
use crate::quotas::Slot;

/// Connect middleware: a failure here reaches the client as `connect_error` with the error's
/// text as `err.message`.
pub(super) async fn authenticate(
    s: SocketRef,
    TryData(auth): TryData<Value>,
    State(rt): State<Realtime>,
) -> Result<(), AuthError> {
    let auth_payload = auth.ok();
    let resume_from = super::client_events::ResumeFrom::from_auth(auth_payload.as_ref()).transpose()?;
    let identity = match find_token(auth_payload.as_ref(), s.req_parts(), &rt.token_cookie) {
        Some(Found { token, from_cookie }) => {
            if from_cookie {
                cookie_allowed(s.req_parts(), &rt.cookie_origins)?;
            }
            rt.directory.verify(&token, rt.leeway_secs)?
        }
        None => match &rt.dev_no_auth_tenant {
            Some(tenant) if rt.directory.contains(tenant) => {
                Identity::new(tenant.clone(), Some("anonymous".into()), Value::Object(Default::default()))
            }
            Some(_) => return Err(AuthError::UnknownTenant),
            None => return Err(AuthError::MissingToken),
        },
    };
    let identity = rt.plugins.map_auth(identity).await.map_err(AuthError::Refused)?;
    let limits = rt.directory.limits(&identity.tenant);
    let slot = rt.connections.reserve(&identity.tenant, identity.user.as_deref(), &limits)?;
    s.extensions.insert(HeldSlot(Arc::new(slot)));
    super::client_events::register(&s, &identity, &rt);
    if let Some(from) = resume_from {
        s.extensions.insert(from);
    }
    s.extensions.insert(Arc::new(identity));
    Ok(())
}

/// The socket's place in its tenant's and user's socket count, given back on disconnect.
#[derive(Clone)]
pub(super) struct HeldSlot(#[allow(dead_code)] Arc<Slot>);

fn strip_bearer(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).unwrap_or(v).trim()
}

/// A browser attaches its cookies to a handshake that any page opens, so a token read from a
/// cookie proves only that the browser holds it, not that the page asking is the tenant's
/// frontend (cross-site WebSocket hijacking). It is taken only from a page whose `Origin` is
/// one of `cors_origins` listed by name (`*` trusts no page with cookies), or from a request
/// the browser itself marks same-origin (`Sec-Fetch-Site`; browsers send no `Origin` on
/// same-origin GETs such as the first polling request).
fn cookie_allowed(parts: &Parts, origins: &CookieOrigins) -> Result<(), AuthError> {
    let header = |name: &str| parts.headers.get(name).and_then(|h| h.to_str().ok());
    if let Some(origin) = header("origin") {
        return match origins {
            CookieOrigins::Listed(list) if list.iter().any(|o| o == origin) => Ok(()),
            CookieOrigins::Listed(_) => Err(AuthError::CookieOrigin(format!(
                "origin '{origin}' is not in cors_origins; a token from a cookie is accepted only from those pages"
            ))),
            CookieOrigins::Any => Err(AuthError::CookieOrigin(
                "cors_origins is '*': set it to your frontend's origin to accept a token from a cookie \
                 (or pass the token in auth.token)"
                    .into(),
            )),
        };
    }
    match header("sec-fetch-site") {
        Some("same-origin") => Ok(()),
        _ => Err(AuthError::CookieOrigin(
            "a token from a cookie needs the page's Origin header (or pass the token in auth.token)".into(),
        )),
    }
}

/// Browser origins a cookie token is accepted from, from `cors_origins`.
#[derive(Debug, Clone)]
pub enum CookieOrigins {
    /// `cors_origins` is `*`: no page is trusted with a cookie token.
    Any,
    Listed(Vec<String>),
}

impl CookieOrigins {
    pub fn from_cors(origins: &[String]) -> Self {
        if origins.iter().any(|o| o == "*") { Self::Any } else { Self::Listed(origins.to_vec()) }
    }
}

struct Found {
    token: String,
    from_cookie: bool,
}

/// The four places seed 004's client may put a token, in its own order of preference:
/// `auth.token`, `auth.authorization`, the `token` query parameter, the `Authorization` header;
/// then the cookie a browser sends by itself (seed 002's client passes no token at all).
fn find_token(auth: Option<&Value>, parts: &Parts, cookie: &str) -> Option<Found> {
    let explicit = find_explicit_token(auth, parts).map(|token| Found { token, from_cookie: false });
    explicit.or_else(|| from_cookie(parts, cookie).map(|token| Found { token, from_cookie: true }))
}

fn find_explicit_token(auth: Option<&Value>, parts: &Parts) -> Option<String> {
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
    parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .map(strip_bearer)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
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
        super::find_token(auth, parts, "token").map(|f| f.token)
    }

    #[test]
    fn token_locations_in_order() {
        let p = parts("/socket.io/?EIO=4&token=q", Some("Bearer h"));
        assert_eq!(find_token(Some(&json!({"token": "a"})), &p).as_deref(), Some("a"));
        assert_eq!(find_token(Some(&json!({"authorization": "Bearer b"})), &p).as_deref(), Some("b"));
        assert_eq!(find_token(Some(&json!({})), &p).as_deref(), Some("q"));
        assert_eq!(find_token(None, &parts("/socket.io/?EIO=4", Some("Bearer h"))).as_deref(), Some("h"));
        assert_eq!(find_token(Some(&json!({"token": ""})), &parts("/socket.io/", None)).as_deref(), Some("c"));
        assert!(super::find_token(None, &parts("/socket.io/", None), "jwt").is_none());
        assert!(super::find_token(None, &parts("/socket.io/", None), "token").unwrap().from_cookie);
        assert!(!super::find_token(None, &p, "token").unwrap().from_cookie);
    }

    fn with_headers(headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().uri("/socket.io/");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn cookie_tokens_only_from_listed_origins_or_same_origin_requests() {
        let listed = CookieOrigins::from_cors(&["https://app.acme.test".into()]);
        let any = CookieOrigins::from_cors(&["*".into()]);
        let ok = with_headers(&[("origin", "https://app.acme.test")]);
        let evil = with_headers(&[("origin", "https://evil.test")]);
        let same = with_headers(&[("sec-fetch-site", "same-origin")]);
        let cross = with_headers(&[("sec-fetch-site", "cross-site")]);
        assert!(cookie_allowed(&ok, &listed).is_ok());
        assert!(cookie_allowed(&same, &listed).is_ok());
        assert!(cookie_allowed(&same, &any).is_ok());
        assert!(cookie_allowed(&evil, &listed).unwrap_err().to_string().contains("not in cors_origins"));
        assert!(cookie_allowed(&ok, &any).unwrap_err().to_string().contains("cors_origins is '*'"));
        assert!(cookie_allowed(&cross, &listed).is_err());
        assert!(cookie_allowed(&with_headers(&[]), &listed).is_err());
    }
}
