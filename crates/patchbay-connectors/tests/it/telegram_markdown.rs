//! Markdown to Telegram HTML: a table of tricky inputs, each checked against the expected HTML
//! and against the emulator's copy of Telegram's parser; long texts split into chunks that
//! Telegram accepts one by one.

use patchbay_connectors::telegram::markdown::to_html;
use patchbay_connectors::telegram::split::{split, visible_len, MESSAGE_LIMIT};
use patchbay_emulators::telegram::parse_html;

/// (Markdown, expected Telegram HTML).
const TABLE: &[(&str, &str)] = &[
    ("***a***", "<i><b>a</b></i>"),
    ("**bold _it_**", "<b>bold <i>it</i></b>"),
    ("<script>&amp;", "&lt;script&gt;&amp;amp;"),
    ("a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"),
    ("`x<y && z>w`", "<code>x&lt;y &amp;&amp; z&gt;w</code>"),
    (
        "```python\nif a < b:\n    print(\"<&>\")\n```",
        "<pre><code class=\"language-python\">if a &lt; b:\n    print(\"&lt;&amp;&gt;\")</code></pre>",
    ),
    ("```\nplain <pre>\n```", "<pre>plain &lt;pre&gt;</pre>"),
    (
        "[q](https://x.example/?a=1&b=\"2\")",
        "<a href=\"https://x.example/?a=1&amp;b=&quot;2&quot;\">q</a>",
    ),
    ("[rel](/local/path)", "rel"),
    ("[js](javascript:alert(1))", "js"),
    ("~~gone~~ **B** _i_", "<s>gone</s> <b>B</b> <i>i</i>"),
    ("- one\n- two\n  - nested\n    1. deep", "• one\n• two\n   • nested\n      1. deep"),
    ("3. c\n4. d", "3. c\n4. d"),
    ("# Heading\n\nbody", "<b>Heading</b>\n\nbody"),
    ("> quoted\n> > inner", "<blockquote>quoted\ninner</blockquote>"),
    ("line one\nline two", "line one\nline two"),
    ("![alt text](https://img.example/a.png)", "alt text"),
    ("<b>raw html</b>", "&lt;b&gt;raw html&lt;/b&gt;"),
    ("emoji 😀 and 𝄞 ok", "emoji 😀 and 𝄞 ok"),
    ("**[bold link](https://a.example)**", "<b><a href=\"https://a.example\">bold link</a></b>"),
    ("a\n\n---\n\nb", "a\n\n———\n\nb"),
    ("- [ ] task", "• [ ] task"),
];

#[test]
fn tricky_markdown_becomes_html_telegram_accepts() {
    for (markdown, expected) in TABLE {
        let html = to_html(markdown);
        assert_eq!(&html, expected, "for {markdown:?}");
        if let Err(e) = parse_html(&html) {
            panic!("Telegram would refuse {html:?} (from {markdown:?}): {e}");
        }
    }
}

/// Every chunk parses, fits, and together they keep all the visible text.
fn check_chunks(html: &str) -> Vec<String> {
    let chunks = split(html, MESSAGE_LIMIT);
    let mut visible = String::new();
    for chunk in &chunks {
        let (text, _) = parse_html(chunk).unwrap_or_else(|e| panic!("refused chunk: {e}\n{chunk}"));
        assert!(
            text.encode_utf16().count() <= MESSAGE_LIMIT,
            "chunk of {} UTF-16 units",
            text.encode_utf16().count()
        );
        assert!(!text.trim().is_empty());
        visible.push_str(&text);
    }
    let (all, _) = parse_html(html).unwrap();
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    assert_eq!(squash(&visible), squash(&all), "text lost or duplicated");
    chunks
}

#[test]
fn long_texts_split_at_paragraphs_and_stay_balanced() {
    let paragraph =
        "**Bold start** and a [link](https://x.example/?a=1&b=2) with `code <x>`. ".repeat(30);
    let markdown = [paragraph.as_str(); 12].join("\n\n");
    let html = to_html(&markdown);
    assert!(visible_len(&html) > MESSAGE_LIMIT * 2);
    let chunks = check_chunks(&html);
    assert!(chunks.len() >= 3);
    // Cut between paragraphs: every chunk but the last ends a paragraph.
    for chunk in &chunks[..chunks.len() - 1] {
        assert!(
            chunk.ends_with("</code>."),
            "{}",
            &chunk[chunk.len() - 40..]
        );
    }
}

#[test]
fn a_bold_run_across_the_limit_is_closed_and_reopened() {
    let markdown = format!("**{}**", "word ".repeat(1500).trim_end());
    let chunks = check_chunks(&to_html(&markdown));
    assert_eq!(chunks.len(), 2);
    assert!(chunks[0].starts_with("<b>") && chunks[0].ends_with("</b>"));
    assert!(chunks[1].starts_with("<b>") && chunks[1].ends_with("</b>"));
}

#[test]
fn a_single_long_word_is_cut_between_characters() {
    let word = "x".repeat(5000);
    let chunks = check_chunks(&to_html(&word));
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].len(), MESSAGE_LIMIT);
}

#[test]
fn emoji_count_as_two_utf16_units() {
    let text = "😀".repeat(3000);
    let chunks = check_chunks(&to_html(&text));
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].chars().count(), MESSAGE_LIMIT / 2);
}

#[test]
fn long_code_blocks_keep_their_language_in_every_chunk() {
    let code = (0..600)
        .map(|i| format!("let v{i} = a < b && c > d;"))
        .collect::<Vec<_>>()
        .join("\n");
    let html = to_html(&format!("```rust\n{code}\n```"));
    let chunks = check_chunks(&html);
    assert!(chunks.len() >= 4);
    for chunk in &chunks {
        assert!(
            chunk.starts_with("<pre><code class=\"language-rust\">"),
            "{}",
            &chunk[..60]
        );
        assert!(chunk.ends_with("</code></pre>"));
    }
}

#[test]
fn entities_are_never_cut() {
    let text = "&".repeat(4100);
    let chunks = check_chunks(&to_html(&text));
    assert!(chunks[0].ends_with("&amp;"));
    assert_eq!(chunks.len(), 2);
}
