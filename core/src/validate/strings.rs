//! What a string may contain to be written into the generated configs.
//!
//! Each target quotes differently and some have no escape at all (BIRD and nftables
//! identifiers, HAProxy words, Apache directive arguments), so the model only admits strings
//! that every target can carry, and the renderers escape what remains for their syntax. The
//! rules here are the first line of defence against a hostile string becoming a directive.

/// Why a string was refused.
pub type Refusal = String;

/// Control characters, line and paragraph separators and bidi overrides: never allowed in any
/// string, because some target would turn them into a new line or hide text from a reviewer.
pub fn forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{feff}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        || ('\u{200b}'..='\u{200f}').contains(&c)
}

fn describe(c: char) -> String {
    match c {
        '\n' => "a newline".to_owned(),
        '\r' => "a carriage return".to_owned(),
        '\t' => "a tab".to_owned(),
        '\0' => "a NUL character".to_owned(),
        c => format!("the character U+{:04X}", c as u32),
    }
}

/// Free text (descriptions): printable, at most 200 characters.
pub fn text(s: &str) -> Result<(), Refusal> {
    if let Some(c) = s.chars().find(|c| forbidden_char(*c)) {
        return Err(format!("contains {}", describe(c)));
    }
    if s.chars().count() > 200 {
        return Err("is longer than 200 characters".to_owned());
    }
    Ok(())
}

/// A command-line argument: printable, at most 512 characters.
pub fn arg(s: &str) -> Result<(), Refusal> {
    if let Some(c) = s.chars().find(|c| forbidden_char(*c)) {
        return Err(format!("contains {}", describe(c)));
    }
    if s.is_empty() {
        return Err("is empty".to_owned());
    }
    if s.len() > 512 {
        return Err("is longer than 512 bytes".to_owned());
    }
    Ok(())
}

/// An identifier: `[a-z][a-z0-9-]*`, at most 48 characters, no trailing `-`, no `--`.
/// Safe unquoted in every target once `-` is mapped to `_` where a target needs it; the
/// no-`--` rule keeps that mapping injective.
pub fn ident(s: &str) -> Result<(), Refusal> {
    let mut chars = s.chars();
    match chars.next() {
        None => return Err("is empty".to_owned()),
        Some(c) if !c.is_ascii_lowercase() => {
            return Err("must start with a lower-case letter".to_owned());
        }
        Some(_) => {}
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(if forbidden_char(c) {
            format!("contains {}", describe(c))
        } else {
            format!("contains `{c}`; names use a-z, 0-9 and `-`")
        });
    }
    if s.ends_with('-') || s.contains("--") {
        return Err("must not end with `-` or contain `--`".to_owned());
    }
    if s.len() > 48 {
        return Err("is longer than 48 characters".to_owned());
    }
    Ok(())
}

/// A DNS name, optionally starting with `*.`.
pub fn hostname(s: &str) -> Result<(), Refusal> {
    let rest = s.strip_prefix("*.").unwrap_or(s);
    let rest = rest.strip_suffix('.').unwrap_or(rest);
    if rest.is_empty() || s.len() > 253 {
        return Err("is not a DNS name".to_owned());
    }
    for label in rest.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(match s.chars().find(|c| forbidden_char(*c)) {
                Some(c) => format!("contains {}", describe(c)),
                None => format!("is not a DNS name (label `{label}`)"),
            });
        }
    }
    Ok(())
}

fn safe_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')
}

/// An absolute path of `[A-Za-z0-9._/-]`, without `..` segments.
pub fn path(s: &str) -> Result<(), Refusal> {
    if !s.starts_with('/') {
        return Err("must be an absolute path".to_owned());
    }
    if let Some(c) = s.chars().find(|c| !safe_path_char(*c)) {
        return Err(if forbidden_char(c) {
            format!("contains {}", describe(c))
        } else {
            format!("contains `{c}`")
        });
    }
    if s.split('/').any(|seg| seg == "..") {
        return Err("must not contain `..`".to_owned());
    }
    if s.len() > 255 {
        return Err("is longer than 255 bytes".to_owned());
    }
    Ok(())
}

/// A file name of `[A-Za-z0-9._-]`, not starting with `.`.
pub fn file_name(s: &str) -> Result<(), Refusal> {
    if s.is_empty() || s.starts_with('.') || s.len() > 128 {
        return Err("must be a plain file name".to_owned());
    }
    match s.chars().find(|c| !(safe_path_char(*c) && *c != '/')) {
        Some(c) if forbidden_char(c) => Err(format!("contains {}", describe(c))),
        Some(c) => Err(format!("contains `{c}`")),
        None => Ok(()),
    }
}

/// Characters allowed unescaped in a URL path or query here.
pub(crate) fn url_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '/' | '-'
                | '.'
                | '_'
                | '~'
                | '%'
                | '!'
                | '*'
                | '('
                | ')'
                | '+'
                | ','
                | '='
                | ':'
                | '@'
                | '?'
                | '&'
        )
}

/// An absolute URL path with query: `/` then URL characters (no quotes, spaces, `#`, `$`,
/// `;`, braces or backslashes, which some target would read as syntax).
pub fn url_path(s: &str) -> Result<(), Refusal> {
    if !s.starts_with('/') {
        return Err("must start with `/`".to_owned());
    }
    match s.chars().find(|c| !url_char(*c)) {
        Some(c) if forbidden_char(c) => Err(format!("contains {}", describe(c))),
        Some(c) => Err(format!("contains `{c}`; percent-encode it")),
        None if s.len() > 512 => Err("is longer than 512 bytes".to_owned()),
        None => Ok(()),
    }
}

/// An `http://` or `https://` URL whose host is a DNS name, an IPv4 address or a bracketed
/// IPv6 address, with optional port and path.
pub fn url(s: &str) -> Result<(), Refusal> {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .ok_or_else(|| "must start with http:// or https://".to_owned())?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6
            .find(']')
            .ok_or_else(|| "has an unclosed `[`".to_owned())?;
        let (h, after) = v6.split_at(end);
        h.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("has an invalid IPv6 address `{h}`"))?;
        (
            None,
            after.strip_prefix(']').and_then(|a| a.strip_prefix(':')),
        )
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(authority), None),
        }
    };
    if let Some(h) = host
        && h.parse::<std::net::Ipv4Addr>().is_err()
    {
        hostname(h).map_err(|e| format!("has a host that {e}"))?;
    }
    if let Some(p) = port {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => {}
            _ => return Err(format!("has an invalid port `{p}`")),
        }
    }
    if !path.is_empty() {
        url_path(path)?;
    }
    Ok(())
}

/// A dotted version `N.N`.
pub fn version(s: &str) -> Result<(u32, u32), Refusal> {
    let (a, b) = s
        .split_once('.')
        .ok_or_else(|| "must look like 2.6".to_owned())?;
    match (a.parse(), b.parse()) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        _ => Err("must look like 2.6".to_owned()),
    }
}
