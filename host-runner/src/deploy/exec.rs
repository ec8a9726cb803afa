//! Running the daemons' own tools on the host: an argument vector (never a shell), bounded in
//! time, with its output kept for the report (the daemon's own words).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default)]
pub struct Ran {
    /// The command line, for messages.
    pub line: String,
    /// Exit code; `None` when killed by a signal or by the time limit.
    pub code: Option<i32>,
    /// Standard output then standard error.
    pub output: String,
    /// It ran out of time and was killed.
    pub timed_out: bool,
}

impl Ran {
    /// Exited with 0.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// `` `line` exited with 1: output `` for a failure message.
    pub fn failure(&self) -> String {
        let how = if self.timed_out {
            "did not finish in time".to_owned()
        } else {
            match self.code {
                Some(c) => format!("exited with {c}"),
                None => "was killed by a signal".to_owned(),
            }
        };
        let out = self.output.trim();
        if out.is_empty() {
            format!("`{}` {how}", self.line)
        } else {
            format!("`{}` {how}: {}", self.line, tail(out, 1500))
        }
    }
}

/// The last `max` bytes of `text` (at a char boundary).
pub fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text.get(start..).unwrap_or(text)
}

/// Runs `argv` with `timeout`. A program that cannot be started is a `Ran` with no code and
/// the reason as output.
pub fn run(argv: &[String], timeout: Duration) -> Ran {
    let line = argv.join(" ");
    let Some((program, args)) = argv.split_first() else {
        return Ran {
            line,
            output: "empty command".to_owned(),
            ..Ran::default()
        };
    };
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return Ran {
                line,
                output: format!("cannot run {program}: {e}"),
                ..Ran::default()
            };
        }
    };
    // Drain both pipes on threads so a chatty command never blocks on a full pipe.
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = stdout.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = stderr.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                timed_out = true;
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break None,
        }
    };
    let mut output = out_thread.join().unwrap_or_default();
    let err = err_thread.join().unwrap_or_default();
    if !err.is_empty() {
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(&err);
    }
    Ran {
        line,
        code: if timed_out {
            None
        } else {
            status.and_then(|s| s.code())
        },
        output,
        timed_out,
    }
}

/// `words` as an argument vector.
pub fn argv<I, S>(words: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    words.into_iter().map(Into::into).collect()
}

/// The PID in a pid file, when the file exists and the process is alive.
pub fn live_pid(pidfile: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(pidfile).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// Polls `done` every 50 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut done: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = done() {
            return Some(v);
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
