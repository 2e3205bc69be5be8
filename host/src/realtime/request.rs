//! The request that opens a Socket.IO connection is kept for as long as the connection lives
//! (`SocketRef::req_parts`). As hyper parses a request, its URI and header values are slices of
//! the connection's read buffer, and the router adds a copy of the URI (`OriginalUri`) that is
//! one more slice: keeping any of them keeps the whole buffer, for every connected client.
//! Socket.IO is handed a request that owns copies instead.

use axum::extract::OriginalUri;
use http::{HeaderMap, HeaderValue, Request, Uri};

use super::SOCKET_IO_PATH;

/// `req` unchanged unless it is for Socket.IO; then with its URI and header values copied out
/// of whatever buffer they point into, and without the router's `OriginalUri`.
pub fn owned<B>(req: Request<B>) -> Request<B> {
    if !req.uri().path().starts_with(SOCKET_IO_PATH) {
        return req;
    }
    let (mut parts, body) = req.into_parts();
    // A URI that parsed once parses again; the fallback keeps the request as it came.
    if let Ok(uri) = Uri::try_from(parts.uri.to_string()) {
        parts.uri = uri;
    }
    parts.headers = owned_headers(&parts.headers);
    parts.extensions.remove::<OriginalUri>();
    Request::from_parts(parts, body)
}

fn owned_headers(headers: &HeaderMap) -> HeaderMap {
    let mut owned = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        // Header names hyper does not know are already copies; values never are.
        let mut copy = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        copy.set_sensitive(value.is_sensitive());
        owned.append(name.clone(), copy);
    }
    owned
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    /// Whether `part` lies inside `buffer`'s memory.
    fn within(buffer: &Bytes, part: &[u8]) -> bool {
        let range = buffer.as_ptr_range();
        range.contains(&part.as_ptr())
    }

    /// A request whose URI, header value and `OriginalUri` are slices of one buffer, the way
    /// hyper and the router build them.
    fn parsed_from(buffer: &Bytes, path: &str) -> Request<()> {
        let start = buffer.windows(path.len()).position(|w| w == path.as_bytes()).unwrap();
        let uri = Uri::from_maybe_shared(buffer.slice(start..start + path.len())).unwrap();
        let cookie_at = buffer.windows(3).position(|w| w == b"t=1").unwrap();
        let cookie = HeaderValue::from_maybe_shared(buffer.slice(cookie_at..cookie_at + 3)).unwrap();
        let mut req = Request::builder().uri(uri.clone()).header("cookie", cookie).body(()).unwrap();
        req.extensions_mut().insert(OriginalUri(uri));
        req
    }

    #[test]
    fn a_socket_io_request_keeps_nothing_of_the_read_buffer() {
        let path = "/socket.io/?EIO=4&transport=websocket";
        let buffer = Bytes::from(format!("GET {path} HTTP/1.1\r\ncookie: t=1\r\n\r\n"));
        let req = parsed_from(&buffer, path);
        assert!(within(&buffer, req.uri().path().as_bytes()), "the fixture shares the buffer");

        let req = owned(req);
        assert_eq!(req.uri().to_string(), path);
        assert!(!within(&buffer, req.uri().path().as_bytes()));
        assert!(!within(&buffer, req.uri().query().unwrap().as_bytes()));
        let cookie = req.headers().get("cookie").unwrap();
        assert_eq!(cookie, "t=1");
        assert!(!within(&buffer, cookie.as_bytes()));
        assert!(req.extensions().get::<OriginalUri>().is_none());
    }

    #[test]
    fn other_requests_pass_as_they_are() {
        let path = "/api/v1/sessions";
        let buffer = Bytes::from(format!("GET {path} HTTP/1.1\r\ncookie: t=1\r\n\r\n"));
        let req = owned(parsed_from(&buffer, path));
        assert!(within(&buffer, req.uri().path().as_bytes()));
        assert!(req.extensions().get::<OriginalUri>().is_some());
    }

    #[test]
    fn sensitive_and_repeated_headers_stay_so() {
        let mut token = HeaderValue::from_static("Bearer x");
        token.set_sensitive(true);
        let req = Request::builder()
            .uri("/socket.io/?EIO=4")
            .header("authorization", token)
            .header("x-a", "1")
            .header("x-a", "2")
            .body(())
            .unwrap();
        let req = owned(req);
        assert!(req.headers()["authorization"].is_sensitive());
        let all: Vec<_> = req.headers().get_all("x-a").iter().collect();
        assert_eq!(all, ["1", "2"]);
    }
}
