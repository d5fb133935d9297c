//! Splits Telegram HTML into messages Telegram accepts: at most `limit` UTF-16 code units of
//! visible text each (Telegram counts the text after parsing entities, in UTF-16), cut at a
//! paragraph break, else a line break, else a space, else between two characters; never
//! inside a tag or an entity. Tags open at a cut are closed at the end of one chunk and opened
//! again at the start of the next, so every chunk is balanced HTML on its own.

/// Telegram's limit for one message.
pub const MESSAGE_LIMIT: usize = 4096;

enum Unit<'a> {
    Open(&'a str, &'a str),
    Close,
    Char(char, &'a str),
}

fn units(html: &str) -> Vec<Unit<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        let (unit, used) = if rest.starts_with("</") {
            let end = rest.find('>').map_or(rest.len(), |n| n + 1);
            (Unit::Close, end)
        } else if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |n| n + 1);
            let tag = &rest[..end];
            let name_end = tag[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(tag.len(), |n| n + 1);
            (Unit::Open(tag, &tag[1..name_end]), end)
        } else if rest.starts_with('&') {
            let end = rest[..rest.len().min(10)].find(';').map_or(1, |n| n + 1);
            let ch = match &rest[..end] {
                "&lt;" => '<',
                "&gt;" => '>',
                "&quot;" => '"',
                _ => '&',
            };
            (Unit::Char(ch, &rest[..end]), end)
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            (Unit::Char(c, &rest[..c.len_utf8()]), c.len_utf8())
        };
        out.push(unit);
        i += used;
    }
    out
}

/// Visible length in UTF-16 code units, as Telegram counts it.
pub fn visible_len(html: &str) -> usize {
    units(html)
        .iter()
        .map(|u| match u {
            Unit::Char(c, _) => c.len_utf16(),
            _ => 0,
        })
        .sum()
}

/// A place to cut: before unit `at`, dropping that many whitespace units.
#[derive(Clone)]
struct Cut {
    at: usize,
    skip: usize,
    stack: Vec<usize>,
    len: usize,
}

pub fn split(html: &str, limit: usize) -> Vec<String> {
    let units = units(html);
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut carried: Vec<usize> = Vec::new();
    while start < units.len() {
        let mut stack = carried.clone();
        let mut len = 0;
        let mut best: [Option<Cut>; 3] = [None, None, None];
        let mut i = start;
        let mut prev = '\0';
        let mut end_stack = None;
        while i < units.len() {
            match &units[i] {
                Unit::Open(..) => stack.push(i),
                Unit::Close => {
                    stack.pop();
                }
                Unit::Char(c, _) => {
                    if len + c.len_utf16() > limit {
                        end_stack = Some(stack.clone());
                        break;
                    }
                    let kind = match (*c, prev) {
                        ('\n', '\n') => Some(0),
                        ('\n', _) => Some(1),
                        (' ', _) => Some(2),
                        _ => None,
                    };
                    if let Some(k) = kind {
                        best[k] = Some(Cut {
                            at: i,
                            skip: 1,
                            stack: stack.clone(),
                            len,
                        });
                    }
                    len += c.len_utf16();
                    prev = *c;
                }
            }
            i += 1;
        }
        let cut = match end_stack {
            None => Cut {
                at: units.len(),
                skip: 0,
                stack,
                len,
            },
            Some(stack) => {
                // A break that leaves a chunk under a quarter full is not worth it.
                let worth = |c: &&Cut| c.len >= limit / 4;
                best.iter()
                    .flatten()
                    .find(|c| worth(c))
                    .or(best[2].as_ref().filter(|c| c.len > 0))
                    .cloned()
                    .unwrap_or(Cut {
                        at: i,
                        skip: 0,
                        stack,
                        len,
                    })
            }
        };
        let visible = units[start..cut.at]
            .iter()
            .any(|u| matches!(u, Unit::Char(c, _) if !c.is_whitespace()));
        let chunk = rebuild(&units, &carried, start, cut.at, &cut.stack);
        if visible {
            chunks.push(chunk.trim().to_string());
        }
        carried = cut.stack;
        start = cut.at + cut.skip;
    }
    chunks
}

/// The chunk `units[from..to]` with `carried` tags opened first and `open_at_end` closed last.
fn rebuild(
    units: &[Unit<'_>],
    carried: &[usize],
    from: usize,
    to: usize,
    open_at_end: &[usize],
) -> String {
    let name = |i: usize| match &units[i] {
        Unit::Open(_, name) => *name,
        _ => "",
    };
    let mut out = String::new();
    let mut stack: Vec<usize> = carried.to_vec();
    for &open in carried {
        if let Unit::Open(tag, _) = &units[open] {
            out.push_str(tag);
        }
    }
    for (i, unit) in units.iter().enumerate().take(to).skip(from) {
        match unit {
            Unit::Open(tag, _) => {
                stack.push(i);
                out.push_str(tag);
            }
            Unit::Close => {
                if let Some(open) = stack.pop() {
                    out.push_str(&format!("</{}>", name(open)));
                }
            }
            Unit::Char(_, src) => out.push_str(src),
        }
    }
    debug_assert_eq!(stack, open_at_end);
    for &open in open_at_end.iter().rev() {
        out.push_str(&format!("</{}>", name(open)));
    }
    out
}
