//! Small helpers for reading daemon output.

/// The last `max` characters of `s`, trimmed, with a leading `...` when cut.
pub(crate) fn tail(s: &str, max: usize) -> String {
    let s = s.trim();
    let count = s.chars().count();
    if count <= max {
        return s.to_string();
    }
    let cut: String = s.chars().skip(count - max).collect();
    format!("...{cut}")
}

/// Parses `FILE:LINE` at the start of `s` where FILE is absolute; returns the file, the line
/// and the rest after the line number (starting at the character after the digits).
pub(crate) fn file_line(s: &str) -> Option<(&str, u32, &str)> {
    if !s.starts_with('/') {
        return None;
    }
    // The file name ends at the last ':' that is followed by digits; scan left to right so a
    // `:` inside the name is tolerated.
    let mut search = 0;
    while let Some(pos) = s.get(search..).and_then(|r| r.find(':')) {
        let colon = search + pos;
        let after = s.get(colon + 1..).unwrap_or("");
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() {
            let line = digits.parse().ok()?;
            let rest = after.get(digits.len()..).unwrap_or("");
            return Some((s.get(..colon)?, line, rest));
        }
        search = colon + 1;
    }
    None
}

/// The first absolute path in `s` (a word starting with `/`, cut at whitespace, quotes, `:`,
/// `,`, `)` and `]`).
pub(crate) fn first_abs_path(s: &str) -> Option<&str> {
    let start = s.char_indices().find_map(|(i, c)| {
        let prev_ok = i == 0
            || s.get(..i)
                .and_then(|p| p.chars().last())
                .is_some_and(|p| p.is_whitespace() || "'\"([`".contains(p));
        (c == '/' && prev_ok).then_some(i)
    })?;
    let rest = s.get(start..)?;
    let end = rest
        .find(|c: char| c.is_whitespace() || "'\":,)]`".contains(c))
        .unwrap_or(rest.len());
    rest.get(..end).filter(|p| p.len() > 1)
}

/// The text between the first `open` and the next `close` after it.
pub(crate) fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let rest = s.get(start..)?;
    let end = rest.find(close)?;
    rest.get(..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_line_forms() {
        assert_eq!(
            file_line("/etc/bird/bird.conf:11:1 syntax error"),
            Some(("/etc/bird/bird.conf", 11, ":1 syntax error"))
        );
        assert_eq!(
            file_line("/etc/haproxy/haproxy.cfg:18] : x"),
            Some(("/etc/haproxy/haproxy.cfg", 18, "] : x"))
        );
        assert_eq!(file_line("bird: x"), None);
    }

    #[test]
    fn abs_paths() {
        assert_eq!(
            first_abs_path("dummy missing from bird configuration /var/lib/a.conf, adding it"),
            Some("/var/lib/a.conf")
        );
        assert_eq!(first_abs_path("'/run/x' doesn't exist"), Some("/run/x"));
        assert_eq!(first_abs_path("10.0.0.1/32 is used"), None);
    }
}
