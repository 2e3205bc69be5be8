//! Which events an endpoint wants: names and globs (`message.*`, `*`), each of which must
//! name at least one event the gateway emits, so a typo is refused rather than silently
//! matching nothing.

use wagate_model::events::EVENT_NAMES;

use super::WebhookError;

/// Patterns an endpoint may list at most.
pub const MAX_PATTERNS: usize = 64;
const MAX_PATTERN_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct EventFilter {
    patterns: Vec<String>,
}

impl EventFilter {
    pub fn new(patterns: Vec<String>) -> Result<Self, WebhookError> {
        if patterns.is_empty() || patterns.len() > MAX_PATTERNS {
            return Err(WebhookError::invalid(
                "invalid_events",
                format!("events must list 1 to {MAX_PATTERNS} event names or patterns such as 'message.*'"),
            ));
        }
        for p in &patterns {
            let well_formed = !p.is_empty()
                && p.len() <= MAX_PATTERN_CHARS
                && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._*".contains(&b));
            if !well_formed {
                return Err(WebhookError::invalid(
                    "invalid_events",
                    format!("'{p}' is not an event name or pattern (lowercase letters, digits, '.', '_' and '*')"),
                ));
            }
            if !EVENT_NAMES.iter().any(|n| glob(p, n)) {
                return Err(WebhookError::invalid(
                    "invalid_events",
                    format!("'{p}' matches no event (docs/events.md lists them)"),
                ));
            }
        }
        Ok(Self { patterns })
    }

    /// Patterns as stored; only ever written by [`EventFilter::new`].
    pub fn from_stored(patterns: Vec<String>) -> Self {
        Self { patterns }
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn matches(&self, name: &str) -> bool {
        self.patterns.iter().any(|p| glob(p, name))
    }

    /// Every event name the gateway emits that the filter takes.
    pub fn names(&self) -> Vec<&'static str> {
        EVENT_NAMES.iter().copied().filter(|n| self.matches(n)).collect()
    }
}

/// `*` matches any run of characters, everything else itself.
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|b| *b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_runs_of_characters() {
        assert!(glob("message.*", "message.received"));
        assert!(glob("*", "tenant.stats"));
        assert!(glob("*.status", "session.status"));
        assert!(glob("session.status", "session.status"));
        assert!(!glob("message.*", "messages.x"));
        assert!(!glob("session.status", "session.status2"));
        assert!(glob("m*e*d", "message.received"));
    }

    #[test]
    fn a_filter_takes_what_it_names_and_refuses_typos() {
        let f = EventFilter::new(vec!["message.*".into(), "session.connected".into()]).unwrap();
        assert!(f.matches("message.status") && f.matches("session.connected") && !f.matches("session.qr"));
        assert!(f.names().contains(&"message.received"));
        for bad in [vec![], vec!["mesage.*".to_owned()], vec!["Message.*".to_owned()], vec!["a b".to_owned()]] {
            assert!(EventFilter::new(bad.clone()).is_err(), "{bad:?}");
        }
        assert!(EventFilter::new(vec!["*".into(); MAX_PATTERNS + 1]).is_err());
    }
}
