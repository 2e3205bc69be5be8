//! The rules: what a rule matches (checked once at bind time, compiled), and the answers it
//! gives, with their `{variables}` filled in.

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// A rule as written in the binding's config.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleConfig {
    /// The whole text is this (case, accents and surrounding spaces ignored).
    pub equals: Option<String>,
    /// The text contains this (case and accents ignored).
    pub contains: Option<String>,
    /// The text starts with this (case, accents and leading spaces ignored).
    pub starts_with: Option<String>,
    /// The text contains any of these (case and accents ignored).
    pub any_of: Option<Vec<String>>,
    /// A regular expression the text matches (case ignored); its groups fill `{1}`, `{2}`, ...
    /// and named groups `{name}`.
    pub regex: Option<String>,
    /// The answer.
    pub reply: Option<String>,
    /// Several answers: each time one of them, at random.
    #[serde(default)]
    pub replies: Vec<String>,
    /// This rule answers one contact at most once in this window (0: no limit).
    #[serde(default)]
    pub cooldown_secs: u64,
    /// The answer is this file; `reply` / `replies`, if given, are its caption.
    pub media: Option<MediaReply>,
}

/// A file a rule answers with, fetched by the gateway from its URL when the answer is sent.
#[derive(Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MediaReply {
    #[serde(rename = "type")]
    pub kind: MediaReplyKind,
    /// http or https; the gateway's own rules decide which addresses it may fetch from.
    pub url: String,
    /// Documents: the name the recipient sees.
    pub file_name: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum MediaReplyKind {
    Image,
    Video,
    Audio,
    Voice,
    Document,
    Sticker,
}

/// Longest media URL a rule may name.
const MAX_URL_CHARS: usize = 2048;

impl MediaReply {
    fn check(&self, captioned: bool) -> Result<(), String> {
        let scheme_ok = self.url.starts_with("https://") || self.url.starts_with("http://");
        if !scheme_ok || self.url.len() > MAX_URL_CHARS {
            return Err(format!("media.url must be an http(s) URL of at most {MAX_URL_CHARS} characters"));
        }
        let takes_caption =
            matches!(self.kind, MediaReplyKind::Image | MediaReplyKind::Video | MediaReplyKind::Document);
        if captioned && !takes_caption {
            return Err("WhatsApp shows no caption on audio, voice notes or stickers: leave out 'reply'".into());
        }
        Ok(())
    }
}

/// Texts are compared with case and accents folded away: "Olá" matches "ola".
pub fn fold(text: &str) -> String {
    text.nfd().filter(|c| !is_combining_mark(*c)).collect::<String>().to_lowercase()
}

enum Matcher {
    Equals(String),
    Contains(String),
    StartsWith(String),
    AnyOf(Vec<String>),
    Regex(Regex),
}

/// What a match captured, for the answer's variables.
pub type Captures = HashMap<String, String>;

impl Matcher {
    fn from_config(r: &RuleConfig) -> Result<Self, String> {
        let given =
            [r.equals.is_some(), r.contains.is_some(), r.starts_with.is_some(), r.any_of.is_some(), r.regex.is_some()];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err("needs exactly one of 'contains', 'equals', 'startsWith', 'anyOf' or 'regex'".into());
        }
        let non_empty = |field: &str, s: &str| {
            let folded = fold(s);
            let folded = folded.trim();
            if folded.is_empty() { Err(format!("'{field}' is empty")) } else { Ok(folded.to_owned()) }
        };
        Ok(if let Some(e) = &r.equals {
            Matcher::Equals(non_empty("equals", e)?)
        } else if let Some(c) = &r.contains {
            Matcher::Contains(non_empty("contains", c)?)
        } else if let Some(s) = &r.starts_with {
            Matcher::StartsWith(non_empty("startsWith", s)?)
        } else if let Some(list) = &r.any_of {
            if list.is_empty() {
                return Err("'anyOf' lists nothing".into());
            }
            Matcher::AnyOf(list.iter().map(|s| non_empty("anyOf", s)).collect::<Result<_, _>>()?)
        } else {
            let pattern = r.regex.as_deref().unwrap_or_default();
            let re = RegexBuilder::new(pattern)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("'regex' does not compile: {e}"))?;
            Matcher::Regex(re)
        })
    }

    /// `None` when the text does not match; otherwise what the match captured.
    fn matches(&self, text: &str) -> Option<Captures> {
        let folded = || fold(text);
        match self {
            Matcher::Equals(e) => (folded().trim() == e).then(Captures::new),
            Matcher::Contains(c) => folded().contains(c.as_str()).then(Captures::new),
            Matcher::StartsWith(s) => folded().trim_start().starts_with(s.as_str()).then(Captures::new),
            Matcher::AnyOf(list) => {
                let f = folded();
                list.iter().any(|w| f.contains(w.as_str())).then(Captures::new)
            }
            Matcher::Regex(re) => re.captures(text).map(|caps| {
                let mut out = Captures::new();
                for (i, m) in caps.iter().enumerate().skip(1) {
                    out.insert(i.to_string(), m.map_or("", |m| m.as_str()).to_owned());
                }
                for name in re.capture_names().flatten() {
                    out.insert(name.to_owned(), caps.name(name).map_or("", |m| m.as_str()).to_owned());
                }
                out
            }),
        }
    }

    /// The variables a match of this rule can fill.
    fn captures(&self) -> Vec<String> {
        match self {
            Matcher::Regex(re) => (1..re.captures_len())
                .map(|i| i.to_string())
                .chain(re.capture_names().flatten().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Variables every answer may use.
pub const VARIABLES: [&str; 5] = ["name", "phone", "session", "date", "time"];

/// A piece of an answer: text as written, or a variable to fill in.
#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    Var(String),
}

/// An answer with its `{variables}`; `{{` and `}}` are literal braces.
#[derive(Debug, PartialEq)]
pub struct Template(Vec<Piece>);

impl Template {
    pub fn parse(text: &str, known: &[String]) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("'{{{name}' is not closed (write '{{{{' for a brace)")),
                        }
                    }
                    if !VARIABLES.contains(&name.as_str()) && !known.contains(&name) {
                        return Err(format!("unknown variable '{{{name}}}' (write '{{{{' for a brace)"));
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Var(name));
                }
                '}' => return Err("a lone '}' (write '}}' for a brace)".into()),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template(pieces))
    }

    /// The answer with its variables filled from `values` (missing ones are empty).
    pub fn render(&self, values: &HashMap<String, String>) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.as_str(),
                Piece::Var(v) => values.get(v).map_or("", String::as_str),
            })
            .collect()
    }
}

/// A rule ready to use.
pub struct Rule {
    matcher: Matcher,
    replies: Vec<Template>,
    pub media: Option<MediaReply>,
    pub cooldown_secs: u64,
}

impl Rule {
    pub fn compile(r: &RuleConfig) -> Result<Self, String> {
        let matcher = Matcher::from_config(r)?;
        let texts: Vec<&String> = r.reply.iter().chain(&r.replies).collect();
        match &r.media {
            Some(media) => media.check(!texts.is_empty())?,
            None if texts.is_empty() => return Err("needs 'reply', 'replies' or 'media'".into()),
            None => {}
        }
        let known = matcher.captures();
        let replies = texts.iter().map(|t| Template::parse(t, &known)).collect::<Result<_, _>>()?;
        Ok(Rule { matcher, replies, media: r.media.clone(), cooldown_secs: r.cooldown_secs })
    }

    pub fn matches(&self, text: &str) -> Option<Captures> {
        self.matcher.matches(text)
    }

    /// One of the rule's answers (a file's caption); `pick` is any number, taken modulo
    /// their count. None for a file without a caption.
    pub fn reply(&self, pick: u64) -> Option<&Template> {
        let n = self.replies.len() as u64;
        (n > 0).then(|| &self.replies[(pick % n) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(config: serde_json::Value) -> Result<Rule, String> {
        Rule::compile(&serde_json::from_value(config).unwrap())
    }

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn folding_ignores_case_and_accents() {
        assert_eq!(fold("Olá, AÇÃO Über"), "ola, acao uber");
    }

    #[test]
    fn each_matcher_ignores_case_and_accents() {
        let r = rule(serde_json::json!({ "equals": " Olá ", "reply": "x" })).unwrap();
        assert!(r.matches("OLA").is_some() && r.matches(" ola ").is_some() && r.matches("ola!").is_none());
        let r = rule(serde_json::json!({ "contains": "preço", "reply": "x" })).unwrap();
        assert!(r.matches("Qual o PRECO?").is_some() && r.matches("prazo").is_none());
        let r = rule(serde_json::json!({ "startsWith": "menu", "reply": "x" })).unwrap();
        assert!(r.matches("  Menú please").is_some() && r.matches("the menu").is_none());
        let r = rule(serde_json::json!({ "anyOf": ["hours", "horário"], "reply": "x" })).unwrap();
        assert!(
            r.matches("Your HORARIO?").is_some() && r.matches("opening hours").is_some() && r.matches("hi").is_none()
        );
    }

    #[test]
    fn a_regex_fills_numbered_and_named_groups() {
        let r = rule(
            serde_json::json!({ "regex": r"order\s+#?(?P<order>\d+)", "reply": "Order {order} ({1}) for {name}" }),
        )
        .unwrap();
        assert!(r.matches("no number").is_none());
        let caps = r.matches("Where is ORDER #4711?").unwrap();
        let mut all = values(&[("name", "Rina")]);
        all.extend(caps);
        assert_eq!(r.reply(0).unwrap().render(&all), "Order 4711 (4711) for Rina");
    }

    #[test]
    fn templates_fill_variables_and_keep_escaped_braces() {
        let t = Template::parse("Hi {name} {{ok}} on {session}", &[]).unwrap();
        assert_eq!(t.render(&values(&[("name", "Ana"), ("session", "sales")])), "Hi Ana {ok} on sales");
        assert_eq!(t.render(&values(&[])), "Hi  {ok} on ");
        assert!(Template::parse("Hi {nmae}", &[]).unwrap_err().contains("unknown variable '{nmae}'"));
        assert!(Template::parse("a } b", &[]).unwrap_err().contains("lone '}'"));
        assert!(Template::parse("Hi {name", &[]).unwrap_err().contains("'{name' is not closed"));
        assert!(Template::parse("{1}", &[]).unwrap_err().contains("unknown variable '{1}'"), "only a regex has groups");
    }

    #[test]
    fn several_replies_are_picked_among() {
        let r = rule(serde_json::json!({ "contains": "hi", "replies": ["A", "B"], "reply": "C" })).unwrap();
        let picked: Vec<String> = (0..3).map(|i| r.reply(i).unwrap().render(&values(&[]))).collect();
        assert_eq!(picked, ["C", "A", "B"]);
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        for (config, needle) in [
            (serde_json::json!({ "reply": "x" }), "needs exactly one of"),
            (serde_json::json!({ "equals": "a", "contains": "b", "reply": "x" }), "needs exactly one of"),
            (serde_json::json!({ "equals": "a" }), "needs 'reply', 'replies' or 'media'"),
            (serde_json::json!({ "contains": " ", "reply": "x" }), "'contains' is empty"),
            (serde_json::json!({ "anyOf": [], "reply": "x" }), "'anyOf' lists nothing"),
            (serde_json::json!({ "regex": "(", "reply": "x" }), "'regex' does not compile"),
            (serde_json::json!({ "regex": "a{1000}{1000}", "reply": "x" }), "'regex' does not compile"),
        ] {
            let err = rule(config).err().expect("refused");
            assert!(err.contains(needle), "{err}");
        }
    }
}
