//! `docs/format.md` stays in step with the input format as the code defines it
//! (`core/src/schema.rs`): every block of the reference has one field table listing every
//! field of that block, with the default and the balancing mode the code uses, the ranges and
//! words it accepts, and no field the code does not accept. The complete example compiles clean.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
#![allow(
    clippy::indexing_slicing,
    reason = "tests: rows are checked for their cell count first"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "tests: the documentation is read from disk"
)]

use svcintent_core::diagnostic::{human, json};
use svcintent_core::schema::{
    self, Applies, BACKEND, BGP, CHECK, CHECK_HTTP, CHECK_TCP, CHECK_TLS, DEFAULTS_EXTRA, DEPLOY,
    Field, HOST, MONITORING, PATHS, SERVICE, SERVICE_DEPLOY, SITE, SITE_MONITORING, TIMEOUTS, TLS,
    Ty, UPSTREAM, VERSIONS, WEB,
};
use svcintent_core::{Sources, compile};
use svcintent_tests::repo_root;

/// Each reference block: its heading in section 4 (without the `###`) and its fields.
const BLOCKS: &[(&str, &[Field])] = &[
    ("`site`", SITE),
    ("`site.bgp`", BGP),
    ("`site.bgp.upstreams[]`", UPSTREAM),
    ("`site.versions`", VERSIONS),
    ("`site.monitoring`", SITE_MONITORING),
    ("`site.paths`", PATHS),
    ("`site.deploy`", DEPLOY),
    ("`hosts.<name>`", HOST),
    ("`services.<name>` and `templates.<name>`", SERVICE),
    ("`check`", CHECK),
    ("`check.http`", CHECK_HTTP),
    ("`check.tcp`", CHECK_TCP),
    ("`check.tls`", CHECK_TLS),
    ("`monitoring`", MONITORING),
    ("`deploy`", SERVICE_DEPLOY),
    ("`timeouts`", TIMEOUTS),
    ("`tls`", TLS),
    ("`backends[]`", BACKEND),
    ("`web`", WEB),
    ("`defaults`", DEFAULTS_EXTRA),
];

const FIELD_HEADER: [&str; 5] = ["Field", "Type", "Default", "Applies to", "Meaning"];
const TOP_HEADER: [&str; 3] = ["Key", "Value", "Meaning"];
/// What the Default column says when a field has no default and is not required.
const NO_DEFAULT: &str = "—";

fn doc() -> String {
    let path = repo_root().join("docs/format.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A Markdown heading outside fenced code: level, text, line index.
struct Heading {
    level: usize,
    text: String,
    line: usize,
}

fn headings(lines: &[&str]) -> Vec<Heading> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        if level > 0 && line[level..].starts_with(' ') {
            out.push(Heading {
                level,
                text: line[level..].trim().to_owned(),
                line: i,
            });
        }
    }
    out
}

/// The lines of the section under the heading with exactly `text` (at `level`), searched
/// within `lines`; up to the next heading of the same or a higher level.
fn section<'a>(lines: &[&'a str], level: usize, text: &str) -> Vec<&'a str> {
    let hs = headings(lines);
    let found: Vec<&Heading> = hs
        .iter()
        .filter(|h| h.level == level && h.text == text)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "docs/format.md needs exactly one heading `{} {text}`",
        "#".repeat(level)
    );
    let start = found[0].line + 1;
    let end = hs
        .iter()
        .find(|h| h.line > found[0].line && h.level <= level)
        .map_or(lines.len(), |h| h.line);
    lines[start..end].to_vec()
}

/// Splits a table row into trimmed cells (`\|` is a literal bar).
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_owned()).collect()
}

/// The body rows of every table in `lines` whose header row is `header`.
fn tables(lines: &[&str], header: &[&str]) -> Vec<Vec<Vec<String>>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with('|') {
            i += 1;
            continue;
        }
        let mut rows = Vec::new();
        while i < lines.len() && lines[i].trim_start().starts_with('|') {
            rows.push(cells(lines[i]));
            i += 1;
        }
        if rows
            .first()
            .is_some_and(|h| h.iter().map(String::as_str).eq(header.iter().copied()))
        {
            // Skip the header and the `|---|` separator.
            out.push(rows.into_iter().skip(2).collect());
        }
    }
    out
}

/// The one field table of a reference block.
fn field_table(reference: &[&str], heading: &str) -> Vec<Vec<String>> {
    let body = section(reference, 3, heading);
    let mut found = tables(&body, &FIELD_HEADER);
    assert_eq!(
        found.len(),
        1,
        "section `### {heading}` needs exactly one table headed | {} |",
        FIELD_HEADER.join(" | ")
    );
    let rows = found.pop().unwrap();
    for row in &rows {
        assert_eq!(
            row.len(),
            FIELD_HEADER.len(),
            "section `### {heading}`: row {row:?} does not have {} cells",
            FIELD_HEADER.len()
        );
    }
    rows
}

fn unticked(cell: &str) -> String {
    cell.replace('`', "")
}

/// Phrases the Type cell must contain for a type: ranges, allowed words, kinds that matter.
fn type_mentions(ty: &Ty) -> Vec<String> {
    match ty {
        Ty::Int(min, max) => vec![format!("integer {min}–{max}")],
        Ty::Bool => vec!["boolean".to_owned()],
        Ty::Duration => vec!["duration".to_owned()],
        Ty::Enum(words) => words.iter().map(|w| format!("`{w}`")).collect(),
        Ty::List(item) | Ty::OneOrList(item) => {
            let mut v = vec!["list".to_owned()];
            v.extend(type_mentions(item));
            v
        }
        Ty::Either(a, b) => type_mentions(a)
            .into_iter()
            .chain(type_mentions(b))
            .collect(),
        Ty::Object(_) | Ty::MapOf(_) => vec!["mapping".to_owned()],
        _ => Vec::new(),
    }
}

fn reference(doc: &str) -> Vec<&str> {
    let lines: Vec<&str> = doc.lines().collect();
    section(&lines, 2, "4. Reference")
}

fn fail_if_any(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "docs/format.md is out of step with core/src/schema.rs:\n- {}",
        problems.join("\n- ")
    );
}

#[test]
fn every_field_has_a_row_and_every_row_is_a_field() {
    let doc = doc();
    let reference = reference(&doc);
    let mut problems = Vec::new();
    for (heading, fields) in BLOCKS {
        let rows = field_table(&reference, heading);
        for field in *fields {
            let want = format!("`{}`", field.name);
            match rows.iter().filter(|r| r[0] == want).count() {
                1 => {}
                0 => problems.push(format!("### {heading}: no row | `{}` |", field.name)),
                n => problems.push(format!("### {heading}: {n} rows for `{}`", field.name)),
            }
        }
        for row in &rows {
            let name = row[0].trim_matches('`');
            if !row[0].starts_with('`') || !fields.iter().any(|f| f.name == name) {
                problems.push(format!(
                    "### {heading}: row {} is not a field the code accepts here",
                    row[0]
                ));
            }
        }
    }
    fail_if_any(&problems);
}

#[test]
fn defaults_match_the_code() {
    let doc = doc();
    let reference = reference(&doc);
    let mut problems = Vec::new();
    for (heading, fields) in BLOCKS {
        let rows = field_table(&reference, heading);
        for field in *fields {
            let Some(row) = rows.iter().find(|r| r[0] == format!("`{}`", field.name)) else {
                continue;
            };
            let documented = unticked(&row[2]);
            let expected = if field.required {
                "required"
            } else if field.default.is_empty() {
                NO_DEFAULT
            } else {
                field.default
            };
            if documented != expected {
                problems.push(format!(
                    "### {heading}: `{}` default is documented as {:?}, the code says {expected:?}",
                    field.name, row[2]
                ));
            }
        }
    }
    fail_if_any(&problems);
}

#[test]
fn types_name_the_accepted_ranges_and_words() {
    let doc = doc();
    let reference = reference(&doc);
    let mut problems = Vec::new();
    for (heading, fields) in BLOCKS {
        let rows = field_table(&reference, heading);
        for field in *fields {
            let Some(row) = rows.iter().find(|r| r[0] == format!("`{}`", field.name)) else {
                continue;
            };
            for phrase in type_mentions(&field.ty) {
                if !row[1].contains(&phrase) {
                    problems.push(format!(
                        "### {heading}: the type of `{}` ({:?}) should mention {phrase}",
                        field.name, row[1]
                    ));
                }
            }
        }
    }
    fail_if_any(&problems);
}

#[test]
fn service_fields_name_their_balancing_mode() {
    let doc = doc();
    let reference = reference(&doc);
    let rows = field_table(&reference, "`services.<name>` and `templates.<name>`");
    let mut problems = Vec::new();
    for field in SERVICE {
        let Some(row) = rows.iter().find(|r| r[0] == format!("`{}`", field.name)) else {
            continue;
        };
        let expected = match field.applies {
            Applies::Any => "any",
            Applies::Haproxy => "haproxy",
            Applies::Anycast => "anycast",
        };
        if unticked(&row[3]) != expected {
            problems.push(format!(
                "`{}` applies to {expected}, documented as {:?}",
                field.name, row[3]
            ));
        }
    }
    fail_if_any(&problems);
}

/// Every mapping the schema can reach has its own reference block, so a new block cannot be
/// added to the format without documenting it.
#[test]
fn every_block_of_the_schema_is_documented() {
    fn same(a: &[Field], b: &[Field]) -> bool {
        a.iter().map(|f| f.name).eq(b.iter().map(|f| f.name))
    }
    fn walk(ty: &Ty, path: &str, problems: &mut Vec<String>) {
        match ty {
            Ty::Object(fields) => {
                if !BLOCKS.iter().any(|(_, b)| same(b, fields)) {
                    problems.push(format!("the mapping at `{path}` has no reference block"));
                }
                for f in *fields {
                    walk(&f.ty, &format!("{path}.{}", f.name), problems);
                }
            }
            Ty::List(item) | Ty::OneOrList(item) => walk(item, &format!("{path}[]"), problems),
            Ty::MapOf(item) => walk(item, &format!("{path}.<name>"), problems),
            Ty::Either(a, b) => {
                walk(a, path, problems);
                walk(b, path, problems);
            }
            _ => {}
        }
    }
    let mut problems = Vec::new();
    for f in schema::TOP {
        walk(&f.ty, f.name, &mut problems);
    }
    problems.sort();
    problems.dedup();
    fail_if_any(&problems);
}

#[test]
fn top_level_keys_are_listed() {
    let doc = doc();
    let lines: Vec<&str> = doc.lines().collect();
    let body = section(&lines, 2, "1. What a site is");
    let found = tables(&body, &TOP_HEADER);
    assert_eq!(
        found.len(),
        1,
        "section 1 needs one table headed | {} |",
        TOP_HEADER.join(" | ")
    );
    let keys: Vec<String> = found[0]
        .iter()
        .map(|r| r[0].trim_matches('`').to_owned())
        .collect();
    let expected: Vec<String> = schema::names(schema::TOP).map(str::to_owned).collect();
    assert_eq!(
        keys, expected,
        "the top-level keys table should list exactly the top-level keys, in order"
    );
}

#[test]
fn the_complete_example_compiles_clean() {
    let doc = doc();
    let lines: Vec<&str> = doc.lines().collect();
    let body = section(&lines, 2, "2. A complete small example");
    let start = body
        .iter()
        .position(|l| l.trim() == "```yaml")
        .expect("section 2 has a ```yaml block")
        + 1;
    let len = body[start..]
        .iter()
        .position(|l| l.trim() == "```")
        .expect("the ```yaml block is closed");
    let text = body[start..start + len].join("\n");
    let sources = Sources::from_pairs([("site.yaml", text)]);
    let compiled = compile(&sources);
    let ds = json::to_json_all(&compiled.diagnostics, &sources);
    assert!(
        compiled.diagnostics.is_empty(),
        "the example of section 2 is not clean:\n{}",
        human::render_all(&ds, &sources, human::Color::Never)
    );
    let intent = compiled.intent.expect("intent");
    assert_eq!(intent.services.len(), 2);
}

/// Where docs/format.md (or docs/diagnostics.md) calls a code's finding an error or a warning,
/// that is the code's severity in the code table: a code mentioned within six words after
/// "error"/"errors" or "warn…" ("warns", "warned", "warning") must have that severity.
#[test]
fn severity_words_match_the_code_table() {
    use svcintent_core::{Code, Severity};
    let mut problems = Vec::new();
    for doc in ["docs/format.md", "docs/diagnostics.md"] {
        let text = std::fs::read_to_string(repo_root().join(doc)).unwrap();
        // Paragraphs outside code fences (quote markers dropped), each with its first line;
        // a table row is a paragraph of its own.
        let mut paragraphs: Vec<(usize, String)> = Vec::new();
        let mut fenced = false;
        let mut open = false;
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                open = false;
                continue;
            }
            let line = line.trim_start().trim_start_matches('>').trim();
            if fenced || line.is_empty() {
                open = false;
                continue;
            }
            match paragraphs.last_mut() {
                Some((_, p)) if open && !line.starts_with('|') => {
                    p.push(' ');
                    p.push_str(line);
                }
                _ => paragraphs.push((n, line.to_owned())),
            }
            open = !line.starts_with('|');
        }
        for (n, paragraph) in &paragraphs {
            // Sentences (table cells count as their own).
            for sentence in paragraph.split(['|', ';']).flat_map(|c| c.split(". ")) {
                let words: Vec<String> = sentence
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .map(str::to_ascii_lowercase)
                    .collect();
                for (i, w) in words.iter().enumerate() {
                    let Some(code) = w
                        .strip_prefix("si")
                        .filter(|d| d.len() == 3 && d.chars().all(|c| c.is_ascii_digit()))
                        .and_then(|_| w.to_ascii_uppercase().parse::<Code>().ok())
                    else {
                        continue;
                    };
                    let said = words[i.saturating_sub(6)..i].iter().rev().find_map(|w| {
                        if w == "error" || w == "errors" {
                            Some(Severity::Error)
                        } else if w.starts_with("warn") {
                            Some(Severity::Warning)
                        } else {
                            None
                        }
                    });
                    if let Some(said) = said
                        && said != code.severity()
                    {
                        problems.push(format!(
                            "{doc}:{}: calls {code} {} but it is {}: {sentence:?}",
                            n + 1,
                            said.as_str(),
                            code.severity().as_str()
                        ));
                    }
                }
            }
        }
    }
    fail_if_any(&problems);
}
