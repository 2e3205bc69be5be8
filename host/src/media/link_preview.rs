//! The preview a text shows for its first link: the page is fetched under the same rules as
//! media from a URL (public addresses only unless the operator allows a network, a size cap)
//! with a short deadline of its own, and its Open Graph title and description are read (the
//! `<title>` and `description` meta when it has none). A page that cannot be read gives no
//! preview; the text is sent all the same.

use std::time::Duration;

use scraper::{Html, Selector};
use url::Url;

use super::fetch::Fetcher;
use crate::model::LinkPreview;

/// The most of a page read for its preview: its head is near the start.
const MAX_PAGE_BYTES: u64 = 2 * 1024 * 1024;
/// How long a send waits for the page.
const DEADLINE: Duration = Duration::from_secs(5);
const MAX_TITLE_CHARS: usize = 300;
const MAX_DESCRIPTION_CHARS: usize = 1000;

/// The first http(s) link in a text, as written.
pub fn first_link(text: &str) -> Option<(String, Url)> {
    text.split_whitespace()
        .map(|word| word.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '"', '\'']))
        .filter(|word| word.starts_with("http://") || word.starts_with("https://"))
        .find_map(|word| Url::parse(word).ok().map(|url| (word.to_owned(), url)))
}

/// The preview of the first link of `text`, or `None` when it has none or the page gives none.
pub async fn for_text(fetcher: &Fetcher, text: &str) -> Option<LinkPreview> {
    let (written, url) = first_link(text)?;
    let page = match tokio::time::timeout(DEADLINE, fetcher.fetch(&url, MAX_PAGE_BYTES, "a linked page")).await {
        Ok(Ok(page)) => page,
        Ok(Err(e)) => {
            tracing::debug!(%url, error = %e, "no link preview");
            return None;
        }
        Err(_) => {
            tracing::debug!(%url, "no link preview: the page did not answer in time");
            return None;
        }
    };
    read(&String::from_utf8_lossy(&page), written)
}

/// A page's title and description; `None` when it has neither.
pub fn read(html: &str, url: String) -> Option<LinkPreview> {
    let doc = Html::parse_document(html);
    let meta = |names: &[&str]| {
        names.iter().find_map(|name| {
            let selector = Selector::parse(&format!(r#"meta[property="{name}"], meta[name="{name}"]"#)).ok()?;
            doc.select(&selector).find_map(|e| e.value().attr("content")).and_then(clean)
        })
    };
    let title = meta(&["og:title", "twitter:title"]).or_else(|| {
        let selector = Selector::parse("title").expect("a valid selector");
        doc.select(&selector).next().and_then(|t| clean(&t.text().collect::<String>()))
    });
    let description = meta(&["og:description", "twitter:description", "description"]);
    let cut = |s: String, max: usize| s.chars().take(max).collect::<String>();
    let (title, description) = (title.map(|t| cut(t, MAX_TITLE_CHARS)), description.map(|d| cut(d, MAX_DESCRIPTION_CHARS)));
    (title.is_some() || description.is_some()).then_some(LinkPreview { url, title, description })
}

fn clean(s: &str) -> Option<String> {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_link_as_written() {
        let (written, url) = first_link("menu: https://example.com/m?x=1. and http://b.c").unwrap();
        assert_eq!((written.as_str(), url.host_str()), ("https://example.com/m?x=1", Some("example.com")));
        assert_eq!(first_link("no link, ftp://x.y, www.e.com"), None);
    }

    #[test]
    fn open_graph_first_then_title_and_description() {
        let og = r#"<html><head><title>Plain</title><meta property="og:title" content=" Our  menu ">
            <meta name="description" content="plain d"><meta property="og:description" content="Open 9 to 5"></head></html>"#;
        let p = read(og, "https://e.com".into()).unwrap();
        assert_eq!((p.title.as_deref(), p.description.as_deref()), (Some("Our menu"), Some("Open 9 to 5")));
        let plain = "<title>\n Just a title </title><meta name=description content=d>";
        let p = read(plain, "https://e.com".into()).unwrap();
        assert_eq!((p.title.as_deref(), p.description.as_deref()), (Some("Just a title"), Some("d")));
        assert_eq!(read("<p>nothing here</p>", "https://e.com".into()), None);
        let long = format!("<title>{}</title>", "x".repeat(5000));
        assert_eq!(read(&long, "u".into()).unwrap().title.unwrap().chars().count(), MAX_TITLE_CHARS);
    }
}
