//! BIRD 2: `bird -p -c /etc/bird/bird.conf` (parse only; no socket, no kernel).
//!
//! Includes by absolute path (`include "/var/lib/anycast-healthchecker/anycast-prefixes.conf";`)
//! resolve to the host's rendered files because the check runs in the host's root. Errors look
//! like `bird: /etc/bird/bird.conf:11:1 syntax error, unexpected '}'`, naming the included file
//! when the error is there.

use std::path::{Path, PathBuf};

use super::sandbox::Sandbox;
use super::{
    Ctx, Finding, HarnessError, Job, include_roots, output, read_text, rendered_file,
    run_config_check,
};

const CONFIG: &str = "/etc/bird/bird.conf";

pub(crate) fn applies(host_dir: &Path) -> Option<PathBuf> {
    rendered_file(host_dir, CONFIG)
}

/// `etc/bird/`, the healthchecker's prefix files it includes, and any other file it includes.
pub(crate) fn input_roots(host_dir: &Path) -> Vec<PathBuf> {
    let mut roots = vec![
        PathBuf::from("etc/bird"),
        PathBuf::from("var/lib/anycast-healthchecker"),
    ];
    roots.extend(include_roots(&read_text(
        &host_dir.join(CONFIG.trim_start_matches('/')),
    )));
    roots
}

pub(crate) fn check(ctx: &Ctx, job: &Job, sb: &mut Sandbox) -> Result<Vec<Finding>, HarnessError> {
    run_config_check(ctx, job, sb, &["-p", "-c"], CONFIG, parse)
}

pub(crate) fn parse(job: &Job, text: &str) -> Vec<(Finding, bool)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let rest = line.strip_prefix("bird: ").unwrap_or(line).trim();
        if rest.is_empty() {
            continue;
        }
        if let Some((file, line_no, after)) = output::file_line(rest) {
            // after = ":COL message"
            let msg = after
                .strip_prefix(':')
                .map(|a| a.trim_start_matches(|c: char| c.is_ascii_digit()))
                .unwrap_or(after)
                .trim();
            out.push((job.finding(Some(file), Some(line_no), msg), false));
        } else {
            out.push((job.finding(None, None, rest), false));
        }
    }
    out
}

/// BIRD on the host (`svcintent apply`): its control socket, spoken directly. Every reply line
/// starts with a four-digit code (`NNNN-` when more lines follow, `NNNN ` on the last one) or a
/// space (a continuation of the previous code); codes 8000 and up are errors. Decisions are made
/// on the codes, never on the prose.
pub mod live {
    use std::collections::BTreeSet;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    use std::path::Path;
    use std::time::Duration;

    use ipnet::IpNet;

    /// `configure` read the file and switched to it.
    pub const RECONFIGURED: u16 = 3;
    /// `configure` switched, and protocols restart in the background.
    pub const RECONFIGURING: u16 = 4;
    /// `configure` queued behind a reconfiguration in progress.
    pub const QUEUED: u16 = 5;
    /// `configure confirm`: the pending undo is cancelled.
    pub const CONFIRMED: u16 = 18;
    /// `configure confirm`/`undo`: nothing was pending.
    pub const NOTHING_PENDING: u16 = 19;
    /// `configure undo`: the previous configuration is back.
    pub const UNDONE: u16 = 21;
    /// `configure ... timeout`: an undo is scheduled.
    pub const UNDO_SCHEDULED: u16 = 22;

    /// One reply: every line with its code.
    #[derive(Debug, Clone, Default)]
    pub struct Reply {
        /// (code, text) per line; continuation lines carry the code of the line they continue.
        pub lines: Vec<(u16, String)>,
    }

    impl Reply {
        /// Whether any line has `code`.
        pub fn has(&self, code: u16) -> bool {
            self.lines.iter().any(|(c, _)| *c == code)
        }

        /// The first error line (code 8000 or more), as BIRD wrote it.
        pub fn error(&self) -> Option<String> {
            self.lines
                .iter()
                .find(|(c, _)| *c >= 8000)
                .map(|(c, t)| format!("{c:04} {}", t.trim()))
        }

        /// Every line's text, one per line.
        pub fn text(&self) -> String {
            self.lines
                .iter()
                .map(|(c, t)| format!("{c:04} {}", t.trim_end()))
                .collect::<Vec<_>>()
                .join("\n")
        }
    }

    /// Parses one line of a reply: `(code, text, last)`; a continuation line (leading space)
    /// has no code of its own.
    pub fn parse_line(line: &str) -> Option<(Option<u16>, &str, bool)> {
        if let Some(rest) = line.strip_prefix(' ') {
            return Some((None, rest, false));
        }
        let code: u16 = line.get(..4)?.parse().ok()?;
        let sep = line.get(4..5)?;
        let text = line.get(5..).unwrap_or_default();
        match sep {
            "-" => Some((Some(code), text, false)),
            " " => Some((Some(code), text, true)),
            _ => None,
        }
    }

    /// One protocol as `show protocols` lists it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Protocol {
        /// Its name (`svcintent_vips`, `rr_rr1_v4`).
        pub name: String,
        /// Its kind (`BGP`, `Direct`).
        pub proto: String,
        /// `up`, `start`, `down`...
        pub state: String,
        /// When it entered that state, as BIRD prints it (`18:46:01.120` within the last day,
        /// else a date): compared, never parsed.
        pub since: String,
    }

    /// The protocols up in `before` that restarted by `after`: no longer up, or up since
    /// another moment. A protocol removed or added is not a restart.
    pub fn restarted(before: &[Protocol], after: &[Protocol]) -> Vec<String> {
        before
            .iter()
            .filter(|b| b.state == "up")
            .filter(|b| {
                after
                    .iter()
                    .find(|a| a.name == b.name)
                    .is_some_and(|a| a.state != "up" || a.since != b.since)
            })
            .map(|b| b.name.clone())
            .collect()
    }

    /// A connection to BIRD's control socket.
    #[derive(Debug)]
    pub struct Birdc {
        reader: BufReader<UnixStream>,
        writer: UnixStream,
    }

    impl Birdc {
        /// Connects and reads BIRD's greeting.
        pub fn connect(socket: &Path, timeout: Duration) -> Result<Self, String> {
            let stream = UnixStream::connect(socket)
                .map_err(|e| format!("cannot reach BIRD at {}: {e}", socket.display()))?;
            let _ = stream.set_read_timeout(Some(timeout));
            let _ = stream.set_write_timeout(Some(timeout));
            let writer = stream
                .try_clone()
                .map_err(|e| format!("BIRD socket {}: {e}", socket.display()))?;
            let mut birdc = Birdc {
                reader: BufReader::new(stream),
                writer,
            };
            let hello = birdc.read_reply()?;
            if !hello.has(1) {
                return Err(format!("BIRD did not greet: {}", hello.text()));
            }
            Ok(birdc)
        }

        fn read_reply(&mut self) -> Result<Reply, String> {
            let mut reply = Reply::default();
            let mut code = 0u16;
            loop {
                let mut line = String::new();
                let n = self
                    .reader
                    .read_line(&mut line)
                    .map_err(|e| format!("reading from BIRD: {e}"))?;
                if n == 0 {
                    return Err("BIRD closed the connection".to_owned());
                }
                let line = line.trim_end_matches(['\n', '\r']);
                let Some((c, text, last)) = parse_line(line) else {
                    return Err(format!("BIRD sent an unreadable line: {line:?}"));
                };
                if let Some(c) = c {
                    code = c;
                }
                reply.lines.push((code, text.to_owned()));
                if last {
                    return Ok(reply);
                }
            }
        }

        /// Sends one command and reads its whole reply.
        pub fn command(&mut self, command: &str) -> Result<Reply, String> {
            self.writer
                .write_all(format!("{command}\n").as_bytes())
                .map_err(|e| format!("writing to BIRD: {e}"))?;
            self.read_reply()
        }

        /// `configure` (re-reads the file BIRD was started with), or `configure "FILE"`, with an
        /// undo timeout when given. Ok with the reply when BIRD switched (or queued the switch).
        pub fn configure(
            &mut self,
            file: Option<&Path>,
            undo_after: Option<Duration>,
        ) -> Result<Reply, String> {
            let mut command = "configure".to_owned();
            if let Some(f) = file {
                command.push_str(&format!(" \"{}\"", f.display()));
            }
            if let Some(t) = undo_after {
                command.push_str(&format!(" timeout {}", t.as_secs().max(1)));
            }
            let reply = self.command(&command)?;
            if let Some(e) = reply.error() {
                return Err(format!("BIRD refused `{command}`: {e}"));
            }
            if [RECONFIGURED, RECONFIGURING, QUEUED]
                .iter()
                .any(|c| reply.has(*c))
            {
                Ok(reply)
            } else {
                Err(format!(
                    "BIRD did not reconfigure on `{command}`: {}",
                    reply.text()
                ))
            }
        }

        /// `configure confirm`: Ok(true) when an undo was pending and is cancelled, Ok(false)
        /// when nothing was pending (a plain `configure` by someone else confirmed already).
        pub fn confirm(&mut self) -> Result<bool, String> {
            let reply = self.command("configure confirm")?;
            if reply.has(CONFIRMED) {
                Ok(true)
            } else if reply.has(NOTHING_PENDING) {
                Ok(false)
            } else {
                Err(format!(
                    "BIRD did not confirm the configuration: {}",
                    reply.text()
                ))
            }
        }

        /// Every protocol (`show protocols`).
        pub fn protocols(&mut self) -> Result<Vec<Protocol>, String> {
            let reply = self.command("show protocols")?;
            if let Some(e) = reply.error() {
                return Err(format!("BIRD refused `show protocols`: {e}"));
            }
            // 1002 lines: name proto table state since info.
            Ok(reply
                .lines
                .iter()
                .filter(|(c, _)| *c == 1002)
                .filter_map(|(_, t)| {
                    let words: Vec<&str> = t.split_whitespace().collect();
                    match words.as_slice() {
                        [name, proto, _table, state, since, ..] => Some(Protocol {
                            name: (*name).to_owned(),
                            proto: (*proto).to_owned(),
                            state: (*state).to_owned(),
                            since: (*since).to_owned(),
                        }),
                        _ => None,
                    }
                })
                .collect())
        }

        /// The BGP protocols and their states (`show protocols`).
        pub fn bgp_protocols(&mut self) -> Result<Vec<(String, String)>, String> {
            Ok(self
                .protocols()?
                .into_iter()
                .filter(|p| p.proto == "BGP")
                .map(|p| (p.name, p.state))
                .collect())
        }

        /// Which of `prefixes` some BGP protocol exports right now.
        pub fn exported(&mut self, prefixes: &BTreeSet<IpNet>) -> Result<BTreeSet<IpNet>, String> {
            let mut out = BTreeSet::new();
            if prefixes.is_empty() {
                return Ok(out);
            }
            // A session that is not up exports nothing (and BIRD answers `show route export`
            // for it with an error: no table is attached yet).
            for (protocol, _) in self
                .bgp_protocols()?
                .into_iter()
                .filter(|(_, state)| state == "up")
            {
                let reply = self.command(&format!("show route export {protocol}"))?;
                if let Some(e) = reply.error() {
                    return Err(format!("BIRD refused `show route export {protocol}`: {e}"));
                }
                for (code, text) in &reply.lines {
                    if *code != 1007 {
                        continue;
                    }
                    let first = text.split_whitespace().next().unwrap_or_default();
                    if let Ok(net) = first.parse::<IpNet>()
                        && prefixes.contains(&net)
                    {
                        out.insert(net);
                    }
                }
            }
            Ok(out)
        }
    }

    /// Whether the BIRD configuration text `config` includes the file `path`.
    pub fn includes(config: &str, path: &str) -> bool {
        config
            .lines()
            .any(|l| l.trim_start().starts_with("include") && l.contains(&format!("\"{path}\"")))
    }

    #[cfg(test)]
    mod tests {
        use super::{Protocol, parse_line, restarted};

        fn row(name: &str, state: &str, since: &str) -> Protocol {
            Protocol {
                name: name.to_owned(),
                proto: "BGP".to_owned(),
                state: state.to_owned(),
                since: since.to_owned(),
            }
        }

        #[test]
        fn a_restart_is_an_up_protocol_down_or_up_since_another_moment() {
            let before = [
                row("svcintent_vips", "up", "18:46:01.120"),
                row("rr_rr1_v4", "up", "18:46:02.500"),
                row("rr_rr2_v4", "up", "18:46:02.510"),
                row("rr_rr3_v4", "start", "18:46:02.520"),
                row("gone", "up", "18:46:02.530"),
            ];
            let after = [
                row("svcintent_vips", "up", "18:50:00.001"),
                row("rr_rr1_v4", "start", "18:50:00.002"),
                row("rr_rr2_v4", "up", "18:46:02.510"),
                row("rr_rr3_v4", "up", "18:50:00.003"),
                row("new", "up", "18:50:00.004"),
            ];
            assert_eq!(restarted(&before, &after), ["svcintent_vips", "rr_rr1_v4"]);
            assert!(restarted(&before, &before).is_empty());
        }

        #[test]
        fn reply_lines_carry_codes_and_continuations() {
            assert_eq!(
                parse_line("0001 BIRD 2.0.12 ready."),
                Some((Some(1), "BIRD 2.0.12 ready.", true))
            );
            assert_eq!(
                parse_line("1007-Table master4:"),
                Some((Some(1007), "Table master4:", false))
            );
            assert_eq!(
                parse_line(" 192.0.2.10/32 unicast"),
                Some((None, "192.0.2.10/32 unicast", false))
            );
            assert_eq!(
                parse_line("8002 /etc/bird/bird.conf:3:1 syntax error"),
                Some((Some(8002), "/etc/bird/bird.conf:3:1 syntax error", true))
            );
            assert_eq!(parse_line("garbage"), None);
            assert_eq!(parse_line("12"), None);
        }
    }
}
