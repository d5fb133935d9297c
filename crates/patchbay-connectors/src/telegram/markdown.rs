//! Markdown (CommonMark with strikethrough) to Telegram HTML. Telegram knows bold, italic,
//! strikethrough, code, pre with a language, links and blockquotes; everything else is
//! written as text: headings become bold lines, list items `• ` or `1. ` lines, raw HTML and
//! images their text. `<`, `>` and `&` are escaped everywhere, code included.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// `markdown` as Telegram HTML (one message's worth or more; see `split`).
pub fn to_html(markdown: &str) -> String {
    let mut r = Renderer::default();
    for event in Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH) {
        r.event(event);
    }
    r.out.trim_end().to_string()
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            other => out.push(other),
        }
    }
    out
}

fn escape_attr(text: &str) -> String {
    escape(text).replace('"', "&quot;")
}

/// Link targets Telegram accepts; others leave only the link's text.
fn linkable(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["http://", "https://", "tg://"]
        .iter()
        .any(|s| lower.starts_with(s) && lower.len() > s.len())
}

/// Keeps a fence's language to what a class name can hold.
fn language(info: &str) -> String {
    info.split_whitespace()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '#' | '.'))
        .take(32)
        .collect()
}

#[derive(Default)]
struct Renderer {
    out: String,
    /// Line breaks owed before the next content (written lazily, so none trail).
    pending: usize,
    /// Open lists: `None` bulleted, `Some(n)` numbered with the next number.
    lists: Vec<Option<u64>>,
    /// A list marker or a quote was just opened; the first block inside starts right there.
    fresh: bool,
    code: Option<(String, String)>,
    quotes: usize,
    links: Vec<bool>,
    images: usize,
}

impl Renderer {
    fn block(&mut self, lines: usize) {
        if !self.out.is_empty() {
            self.pending = self.pending.max(lines);
        }
    }

    fn flush(&mut self) {
        for _ in 0..self.pending {
            self.out.push('\n');
        }
        self.pending = 0;
        self.fresh = false;
    }

    fn open(&mut self, tag: &str) {
        self.flush();
        self.out.push_str(tag);
    }

    fn text(&mut self, text: &str) {
        if let Some((_, code)) = &mut self.code {
            code.push_str(text);
            return;
        }
        self.flush();
        self.out.push_str(&escape(text));
    }

    fn gap(&self) -> usize {
        if self.lists.is_empty() && self.quotes == 0 {
            2
        } else {
            1
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t),
            Event::Code(t) => {
                self.open("<code>");
                self.out.push_str(&escape(&t));
                self.out.push_str("</code>");
            }
            Event::Html(t) | Event::InlineHtml(t) => self.text(&t),
            Event::SoftBreak | Event::HardBreak => {
                if self.code.is_some() {
                    self.text("\n");
                } else {
                    self.block(1);
                }
            }
            Event::Rule => {
                self.block(self.gap());
                self.text("———");
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
            Event::FootnoteReference(name) => self.text(&format!("[{name}]")),
            Event::InlineMath(t) | Event::DisplayMath(t) => self.text(&t),
        }
    }

    /// Closes a link that was opened as a tag (not one left as text).
    fn close_link(&mut self) {
        if self.links.pop() == Some(true) {
            self.out.push_str("</a>");
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph if !self.fresh => self.block(self.gap()),
            Tag::Heading { .. } => {
                if !self.fresh {
                    self.block(self.gap());
                }
                self.open("<b>");
            }
            Tag::BlockQuote(_) => {
                if !self.fresh {
                    self.block(self.gap());
                }
                // Telegram does not nest quotes; inner ones are just more lines.
                if self.quotes == 0 {
                    self.open("<blockquote>");
                    self.fresh = true;
                }
                self.quotes += 1;
            }
            Tag::CodeBlock(kind) => {
                if !self.fresh {
                    self.block(self.gap());
                }
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => language(&info),
                    CodeBlockKind::Indented => String::new(),
                };
                self.flush();
                self.code = Some((lang, String::new()));
            }
            Tag::HtmlBlock => self.block(self.gap()),
            Tag::List(start) => {
                let lines = if self.lists.is_empty() { 2 } else { 1 };
                self.block(lines);
                self.lists.push(start);
            }
            Tag::Item => {
                self.block(1);
                self.flush();
                let depth = self.lists.len().saturating_sub(1);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "• ".to_string(),
                };
                self.out.push_str(&"   ".repeat(depth));
                self.out.push_str(&marker);
                self.fresh = true;
            }
            Tag::Emphasis => self.open("<i>"),
            Tag::Strong => self.open("<b>"),
            Tag::Strikethrough => self.open("<s>"),
            Tag::Link { dest_url, .. } => {
                let ok = self.images == 0 && linkable(&dest_url);
                if ok {
                    self.open(&format!("<a href=\"{}\">", escape_attr(&dest_url)));
                }
                self.links.push(ok);
            }
            Tag::Image { .. } => self.images += 1,
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(_) => self.out.push_str("</b>"),
            TagEnd::BlockQuote(_) => {
                self.quotes = self.quotes.saturating_sub(1);
                if self.quotes == 0 {
                    self.pending = 0;
                    self.out.push_str("</blockquote>");
                }
            }
            TagEnd::CodeBlock => {
                if let Some((lang, code)) = self.code.take() {
                    self.flush();
                    if lang.is_empty() {
                        self.out.push_str("<pre>");
                    } else {
                        self.out
                            .push_str(&format!("<pre><code class=\"language-{lang}\">"));
                    }
                    self.out.push_str(&escape(code.trim_end_matches('\n')));
                    self.out.push_str(if lang.is_empty() {
                        "</pre>"
                    } else {
                        "</code></pre>"
                    });
                }
            }
            TagEnd::List(_) => {
                self.lists.pop();
                self.fresh = false;
            }
            TagEnd::Emphasis => self.out.push_str("</i>"),
            TagEnd::Strong => self.out.push_str("</b>"),
            TagEnd::Strikethrough => self.out.push_str("</s>"),
            TagEnd::Link => self.close_link(),
            TagEnd::Image => self.images = self.images.saturating_sub(1),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn basics() {
        assert_eq!(
            to_html("**b** _i_ ~~s~~ `a<b`"),
            "<b>b</b> <i>i</i> <s>s</s> <code>a&lt;b</code>"
        );
        assert_eq!(to_html("# Title\n\ntext"), "<b>Title</b>\n\ntext");
        assert_eq!(
            to_html("- a\n- b\n  1. c\n  2. d"),
            "• a\n• b\n   1. c\n   2. d"
        );
        assert_eq!(
            to_html("```rust\nlet x = 1 < 2;\n```"),
            "<pre><code class=\"language-rust\">let x = 1 &lt; 2;</code></pre>"
        );
    }
}
