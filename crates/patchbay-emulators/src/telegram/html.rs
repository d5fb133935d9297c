//! Telegram's `parse_mode: HTML`: the tags it supports, the four named entities and numeric
//! ones, and its refusals (`can't parse entities: …`) for unknown or unbalanced tags. Parsing
//! yields the plain text and its entities with offsets in UTF-16 code units, as the Bot API
//! reports them.

use serde_json::{json, Value};

/// A formatting entity of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// `bold`, `italic`, `underline`, `strikethrough`, `spoiler`, `text_link`, `code`, `pre`,
    /// `blockquote`, `custom_emoji`.
    pub kind: String,
    pub offset: usize,
    pub length: usize,
    pub url: Option<String>,
    pub language: Option<String>,
}

impl Entity {
    pub fn to_json(&self) -> Value {
        let mut v = json!({"type": self.kind, "offset": self.offset, "length": self.length});
        if let Some(url) = &self.url {
            v["url"] = url.clone().into();
        }
        if let Some(language) = &self.language {
            v["language"] = language.clone().into();
        }
        v
    }
}

struct Open {
    name: String,
    start: usize,
    url: Option<String>,
    language: Option<String>,
}

/// Parses `input` as Telegram HTML into its text and entities, or says why Telegram would
/// refuse it (the part after `can't parse entities: `).
pub fn parse_html(input: &str) -> Result<(String, Vec<Entity>), String> {
    let bytes = input.as_bytes();
    let mut text = String::new();
    let mut units = 0usize;
    let mut stack: Vec<Open> = Vec::new();
    let mut entities = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => {
                let end = input[i..]
                    .find('>')
                    .map(|n| i + n)
                    .ok_or_else(|| format!("Unclosed start tag at byte offset {i}"))?;
                let inner = &input[i + 1..end];
                if let Some(name) = inner.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    let open = stack
                        .pop()
                        .ok_or_else(|| format!("Unexpected end tag at byte offset {i}"))?;
                    if !name.is_empty() && name != open.name {
                        return Err(format!(
                            "Can't find end tag corresponding to start tag \"{}\"",
                            open.name
                        ));
                    }
                    close(open, units, &mut stack, &mut entities);
                } else {
                    stack.push(start_tag(inner, i, units, &stack)?);
                }
                i = end + 1;
            }
            b'&' => {
                let (ch, used) = entity_at(&input[i..]);
                text.push(ch);
                units += ch.len_utf16();
                i += used;
            }
            _ => {
                let ch = input[i..].chars().next().unwrap_or('\u{fffd}');
                text.push(ch);
                units += ch.len_utf16();
                i += ch.len_utf8();
            }
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            open.name
        ));
    }
    entities.sort_by_key(|e: &Entity| (e.offset, std::cmp::Reverse(e.length)));
    Ok((text, entities))
}

const SUPPORTED: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
];

fn start_tag(inner: &str, at: usize, units: usize, stack: &[Open]) -> Result<Open, String> {
    let inner = inner.trim_end_matches('/');
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(inner.len());
    let name = inner[..name_len].to_ascii_lowercase();
    if !SUPPORTED.contains(&name.as_str()) {
        return Err(format!(
            "Unsupported start tag \"{name}\" at byte offset {at}"
        ));
    }
    let attrs = attributes(&inner[name_len..])
        .ok_or_else(|| format!("Unclosed start tag at byte offset {at}"))?;
    let attr = |key: &str| attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let mut open = Open {
        name: name.clone(),
        start: units,
        url: None,
        language: None,
    };
    match name.as_str() {
        "span" if attr("class").as_deref() != Some("tg-spoiler") => {
            return Err(format!(
                "Tag \"span\" must have class \"tg-spoiler\" at byte offset {at}"
            ))
        }
        "a" => open.url = attr("href"),
        "tg-emoji" if attr("emoji-id").is_none() => {
            return Err(format!(
                "Custom emoji entity must contain a custom emoji identifier at byte offset {at}"
            ))
        }
        // `<pre><code class="language-x">` gives the block its language.
        "code" if stack.last().is_some_and(|o| o.name == "pre") => {
            let class = attr("class").unwrap_or_default();
            open.language = Some(class.strip_prefix("language-").unwrap_or("").to_string());
        }
        _ => {}
    }
    Ok(open)
}

fn close(open: Open, units: usize, stack: &mut [Open], entities: &mut Vec<Entity>) {
    let length = units - open.start;
    let kind = match open.name.as_str() {
        "b" | "strong" => "bold",
        "i" | "em" => "italic",
        "u" | "ins" => "underline",
        "s" | "strike" | "del" => "strikethrough",
        "span" | "tg-spoiler" => "spoiler",
        "a" => "text_link",
        "pre" => "pre",
        "blockquote" => "blockquote",
        "tg-emoji" => "custom_emoji",
        _ => "code",
    };
    if kind == "code" && open.language.is_some() {
        // The language belongs to the enclosing `pre`; the inner `code` adds no entity.
        if let Some(pre) = stack.last_mut() {
            pre.language = open.language;
        }
        return;
    }
    if length == 0 || (kind == "text_link" && open.url.is_none()) {
        return;
    }
    entities.push(Entity {
        kind: kind.into(),
        offset: open.start,
        length,
        url: open.url,
        language: open.language.filter(|l| !l.is_empty()),
    });
}

/// `key="value"` pairs (quotes single, double or none); `None` when a quote is left open.
fn attributes(mut s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Some(out);
        }
        let key_len = s
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(s.len());
        let key = s[..key_len].to_ascii_lowercase();
        s = s[key_len..].trim_start();
        let Some(rest) = s.strip_prefix('=') else {
            out.push((key, String::new()));
            continue;
        };
        let rest = rest.trim_start();
        let (raw, after) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let end = rest[1..].find(q)? + 1;
                (&rest[1..end], &rest[end + 1..])
            }
            _ => {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            }
        };
        out.push((key, decode(raw)));
        s = after;
    }
}

/// Attribute values may hold entities too.
fn decode(raw: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < raw.len() {
        if raw.as_bytes()[i] == b'&' {
            let (ch, used) = entity_at(&raw[i..]);
            out.push(ch);
            i += used;
        } else {
            let ch = raw[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The character an entity at the start of `s` stands for and the bytes it takes; a `&` that
/// starts no known entity is itself.
fn entity_at(s: &str) -> (char, usize) {
    let Some(end) = s[..s.len().min(12)].find(';') else {
        return ('&', 1);
    };
    let name = &s[1..end];
    let ch = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => name
            .strip_prefix("#x")
            .or_else(|| name.strip_prefix("#X"))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
            .and_then(char::from_u32),
    };
    match ch {
        Some(c) => (c, end + 1),
        None => ('&', 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_tags_and_entities() {
        let (text, entities) =
            parse_html("<b>bold <i>both</i></b> &lt;x&gt; &amp; &#128512;").unwrap();
        assert_eq!(text, "bold both <x> & 😀");
        assert_eq!(entities[0].kind, "bold");
        assert_eq!((entities[0].offset, entities[0].length), (0, 9));
        assert_eq!(entities[1].kind, "italic");
    }

    #[test]
    fn pre_with_language() {
        let (text, entities) =
            parse_html("<pre><code class=\"language-rust\">let a = 1 &lt; 2;</code></pre>")
                .unwrap();
        assert_eq!(text, "let a = 1 < 2;");
        assert_eq!(entities.len(), 1);
        assert_eq!(entities[0].language.as_deref(), Some("rust"));
    }

    #[test]
    fn refusals() {
        assert!(parse_html("<script>x</script>")
            .unwrap_err()
            .starts_with("Unsupported start tag \"script\""));
        assert!(parse_html("<b>x").unwrap_err().contains("\"b\""));
        assert!(parse_html("<b>x</i>").is_err());
        assert!(parse_html("x</b>")
            .unwrap_err()
            .starts_with("Unexpected end tag"));
        assert!(parse_html("<b x").is_err());
        assert!(parse_html("<ul><li>x</li></ul>").is_err());
    }
}
