//! The dashboard at `/ui` (docs/dashboard.md): a page and its scripts, built into the binary
//! (no CDN, no build step, nothing fetched from the internet), that act only through the
//! gateway's public REST API and event stream, with the credential its user signs in with.
//! The files hold no secret, so they are served to anyone; every call they make is checked
//! as any client's.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::api::ApiError;

/// Scripts and styles come only from the gateway itself, and the page talks only to it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

macro_rules! files {
    ($($name:literal => $mime:literal),+ $(,)?) => {
        &[$(($name, $mime, include_bytes!(concat!("../../ui/", $name)))),+]
    };
}

/// Every file of the dashboard: name, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = files! {
    "index.html" => "text/html; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "dom.js" => "text/javascript; charset=utf-8",
    "stream.js" => "text/javascript; charset=utf-8",
    "form.js" => "text/javascript; charset=utf-8",
    "tenant.js" => "text/javascript; charset=utf-8",
    "chats.js" => "text/javascript; charset=utf-8",
    "operator.js" => "text/javascript; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
};

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(|| async { file("index.html") }))
        .route("/ui/{file}", get(|Path(name): Path<String>| async move { file(&name) }))
}

fn file(name: &str) -> Response {
    let Some((_, mime, bytes)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return ApiError::not_found("not_found", format!("the dashboard has no file '{name}'")).into_response();
    };
    let mut res = (*bytes).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // A new binary may bring new files: always ask again (they are small and local).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_the_page_imports_is_served() {
        for (name, _, bytes) in FILES.iter().filter(|(n, _, _)| n.ends_with(".js") || n.ends_with(".html")) {
            let text = std::str::from_utf8(bytes).unwrap();
            for part in text
                .split("\"./")
                .skip(1)
                .chain(text.split("src=\"/ui/").skip(1))
                .chain(text.split("href=\"/ui/").skip(1))
            {
                let target = &part[..part.find('"').unwrap()];
                assert!(FILES.iter().any(|(n, _, _)| *n == target), "{name} refers to '{target}', which is not served");
            }
        }
    }
}
