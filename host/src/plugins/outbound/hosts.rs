//! Which hosts a plugin's outgoing request may name: a pattern list in plugin.toml, in the
//! operator's config and on each tenant binding, and a request must match all three.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

const MAX_PATTERN_CHARS: usize = 262;

/// `*` (any host), `example.com`, `*.example.com` (its subdomains, not itself), each with an
/// optional `:port` (any port without one); an address as `127.0.0.1` or `[::1]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostPattern {
    host: Host,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Any,
    Exact(String),
    /// `.example.com`: hosts that end with it.
    Below(String),
}

impl HostPattern {
    /// Whether a URL's host (as `url::Url::host_str` writes it, lower case, an IPv6 address in
    /// brackets) and port match.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.');
        self.port.is_none_or(|p| p == port)
            && match &self.host {
                Host::Any => true,
                Host::Exact(h) => h.eq_ignore_ascii_case(host),
                Host::Below(suffix) => {
                    host.len() > suffix.len() && host.to_ascii_lowercase().ends_with(suffix.as_str())
                }
            }
    }
}

/// True when some pattern of `list` matches.
pub fn any_matches(list: &[HostPattern], host: &str, port: u16) -> bool {
    list.iter().any(|p| p.matches(host, port))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl FromStr for HostPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("'{text}' is not a host pattern (example.com, *.example.com, host:port or *)");
        let s = text.trim().to_ascii_lowercase();
        if s.is_empty() || s.len() > MAX_PATTERN_CHARS {
            return Err(bad());
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (address, after) = rest.split_once(']').ok_or_else(bad)?;
            address.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').and_then(|p| p.parse().ok()).ok_or_else(bad)?),
            };
            (format!("[{address}]"), port)
        } else {
            match s.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), Some(port.parse::<u16>().map_err(|_| bad())?)),
                None => (s.clone(), None),
            }
        };
        let host = if host == "*" {
            Host::Any
        } else if let Some(below) = host.strip_prefix("*.") {
            if !valid_name(below) {
                return Err(bad());
            }
            Host::Below(format!(".{below}"))
        } else if host.starts_with('[') || valid_name(&host) {
            Host::Exact(host)
        } else {
            return Err(bad());
        };
        if port == Some(0) {
            return Err(bad());
        }
        Ok(HostPattern { host, port })
    }
}

impl TryFrom<String> for HostPattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<HostPattern> for String {
    fn from(p: HostPattern) -> String {
        p.to_string()
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Any => f.write_str("*")?,
            Host::Exact(h) => f.write_str(h)?,
            Host::Below(suffix) => write!(f, "*{suffix}")?,
        }
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> HostPattern {
        s.parse().unwrap()
    }

    #[test]
    fn patterns_match_hosts_and_ports() {
        assert!(p("api.openai.com").matches("api.openai.com", 443));
        assert!(p("API.OpenAI.com").matches("api.openai.com", 8443));
        assert!(!p("openai.com").matches("api.openai.com", 443));
        assert!(p("*.openai.com").matches("api.openai.com", 443));
        assert!(!p("*.openai.com").matches("openai.com", 443));
        assert!(!p("*.openai.com").matches("evilopenai.com", 443));
        assert!(p("127.0.0.1:8080").matches("127.0.0.1", 8080));
        assert!(!p("127.0.0.1:8080").matches("127.0.0.1", 8081));
        assert!(p("[::1]:9").matches("[::1]", 9));
        assert!(p("*").matches("anything.example", 1));
        assert!(p("*:443").matches("x.example", 443) && !p("*:443").matches("x.example", 80));
        assert!(p("example.com").matches("example.com.", 443), "a trailing dot names the same host");
    }

    #[test]
    fn bad_patterns_are_refused_with_the_pattern() {
        for bad in
            ["", "http://x.com", "x.com/path", "*x.com", "a.*.com", "x.com:0", "x.com:99999", "[::1", "..", "-a.com"]
        {
            let err = bad.parse::<HostPattern>().unwrap_err();
            assert!(err.contains("is not a host pattern"), "{bad}: {err}");
        }
        assert_eq!(p(" *.Example.com:8443 ").to_string(), "*.example.com:8443");
        assert_eq!(serde_json::to_value(p("[::1]")).unwrap(), "[::1]");
    }
}
