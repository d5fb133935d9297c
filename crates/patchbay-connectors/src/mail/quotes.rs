//! The author's own words of a message: quoted replies, forwarded and original-message blocks
//! and signatures are cut, so what earlier mail asked is not read as asked again.

/// Lines that begin a block the author did not write in this message.
fn starts_quote_block(line: &str, next: Option<&str>) -> bool {
    let l = line.trim();
    let lower = l.to_lowercase();
    if lower.starts_with("-----original message-----")
        || lower.starts_with("---------- forwarded message")
        || lower.starts_with("begin forwarded message")
        || lower.starts_with("________________")
    {
        return true;
    }
    // "On Tue, 1 Dec 2026 at 10:00, Zoë <zoe@example.com> wrote:" (possibly wrapped).
    if lower.starts_with("on ") {
        let joined = match next {
            Some(n) => format!("{lower} {}", n.trim().to_lowercase()),
            None => lower.clone(),
        };
        if joined.contains(" wrote:") || joined.contains(" schrieb:") || joined.contains(" a écrit")
        {
            return true;
        }
    }
    // Outlook's header block of a quoted message.
    lower.starts_with("from:")
        && next.is_some_and(|n| {
            let n = n.trim().to_lowercase();
            n.starts_with("sent:") || n.starts_with("date:") || n.starts_with("to:")
        })
}

/// Sign-offs after which only a name and a signature follow.
const SIGN_OFFS: &[&str] = &[
    "best",
    "best regards",
    "kind regards",
    "regards",
    "warm regards",
    "cheers",
    "thanks",
    "thank you",
    "many thanks",
    "thanks again",
    "br",
    "sincerely",
    "yours",
    "all the best",
    "talk soon",
    "best wishes",
    "viele grüße",
    "liebe grüße",
    "saludos",
    "cordialement",
];

fn is_sign_off(line: &str) -> bool {
    let l = line
        .trim()
        .trim_end_matches([',', '!', '.'])
        .trim()
        .to_lowercase();
    SIGN_OFFS.contains(&l.as_str())
}

/// The text before any quoted block or signature; `>` lines are dropped wherever they are.
pub fn own_text(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let next = lines.get(i + 1).copied();
        if line.trim_end() == "--" || line.trim_end() == "-- " || line.trim() == "—" {
            break;
        }
        if starts_quote_block(line, next) {
            break;
        }
        if line.trim_start().starts_with('>') {
            continue;
        }
        // A sign-off followed only by a short signature ends the message.
        if is_sign_off(line) {
            let rest = &lines[i + 1..];
            if rest.iter().filter(|l| !l.trim().is_empty()).count() <= 8 {
                break;
            }
        }
        out.push(line);
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_forwards_and_signatures_are_cut() {
        let text = "Sounds good, I'll send it tomorrow.\n\nOn Tue, 1 Dec 2026 at 10:00, Zoë <zoe@example.com>\nwrote:\n> Could you send the deck?\n";
        assert_eq!(own_text(text).trim(), "Sounds good, I'll send it tomorrow.");
        let outlook = "Done.\n\nFrom: Bob\nSent: Monday\nPlease book the room.";
        assert_eq!(own_text(outlook).trim(), "Done.");
        let sig = "Please review.\n\nBest,\nAda\nHead of Ops | ACME\nCall me: +49 30 1234";
        assert_eq!(own_text(sig).trim(), "Please review.");
        let dashes = "Ok.\n-- \nAda Lovelace\nPlease do not reply";
        assert_eq!(own_text(dashes).trim(), "Ok.");
        let inline = "Answers below.\n> Can you call?\nYes, I will call at 3.";
        assert_eq!(own_text(inline), "Answers below.\nYes, I will call at 3.");
    }
}
