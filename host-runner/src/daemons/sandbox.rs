//! The throwaway root each check runs in (see the [module docs](super) for the why).
//!
//! `Sandbox::new` copies one host folder into `TMP/root`; the daemon module then writes what
//! the daemon needs but we do not render ([`Sandbox::write()`], [`Sandbox::mkdir`]); the first
//! [`Sandbox::run`] plans the bind mounts from what is then in the root, and every run executes
//!
//! ```text
//! timeout -v -k 5 SECS unshare --user --map-root-user --mount --propagation private --net \
//!     -- sh -c 'mount ...; : > TMP/ready; exec chroot TMP/root "$@"' sandbox ARGV...
//! ```
//!
//! `TMP/ready` tells a sandbox that did not come up (no marker) from a daemon that failed. The
//! mounts exist only in the private mount namespace, so removing `TMP` afterwards never reaches
//! the machine's folders.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Ctx, Daemon, HarnessError, Job, io_err};

/// Entries of the machine's `/etc` that the sandbox shows (read-only) unless the rendered tree
/// has its own: user and group names, the dynamic linker cache, name resolution, TLS trust,
/// MIME types, protocol and service names, iproute2 tables, alternatives symlinks and HAProxy's
/// packaged error pages.
pub const SYSTEM_ETC: &[&str] = &[
    "alternatives",
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "host.conf",
    "resolv.conf",
    "gai.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "ssl",
    "ca-certificates",
    "mime.types",
    "protocols",
    "services",
    "ethertypes",
    "iproute2",
    "os-release",
    "haproxy/errors",
];

/// Top-level system folders shown from the machine (as the same symlink when the machine has a
/// merged `/usr`).
const SYSTEM_TOP: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// `PATH` inside the sandbox.
pub const SANDBOX_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Folder inside the sandbox root for files the harness writes (wrappers, state dirs).
pub const HARNESS_DIR: &str = "/.svcintent-check";

/// The external tools the harness runs outside the sandbox.
#[derive(Debug, Clone)]
pub struct Tools {
    pub(crate) sh: PathBuf,
    pub(crate) unshare: PathBuf,
    pub(crate) mount: PathBuf,
    pub(crate) chroot: PathBuf,
    pub(crate) timeout: PathBuf,
    pub(crate) openssl: PathBuf,
}

impl Tools {
    /// Finds every tool, or names the first missing one.
    pub fn find() -> Result<Self, HarnessError> {
        Ok(Tools {
            sh: find_tool("sh")?,
            unshare: find_tool("unshare")?,
            mount: find_tool("mount")?,
            chroot: find_tool("chroot")?,
            timeout: find_tool("timeout")?,
            openssl: find_tool("openssl")?,
        })
    }
}

fn find_tool(tool: &'static str) -> Result<PathBuf, HarnessError> {
    let looked = candidates(tool);
    looked
        .iter()
        .find(|p| is_executable(p))
        .cloned()
        .ok_or(HarnessError::MissingTool { tool, looked })
}

/// Where an executable called `name` may be: the `PATH` folders, then the system folders
/// (`/usr/sbin` is not on every user's `PATH`).
pub fn candidates(name: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(std::env::split_paths(SANDBOX_PATH));
    let mut out: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        if !dir.is_absolute() {
            continue;
        }
        let path = dir.join(name);
        if !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// A regular file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// True when `path` resolves to somewhere under `/usr`, which every sandbox shows at the same
/// path (pyenv or rustup shims in a home folder are not).
pub fn visible_in_sandbox(path: &Path) -> bool {
    std::fs::canonicalize(path).is_ok_and(|p| p.starts_with("/usr"))
}

/// Lexically normalises a path to one relative to the root: `/a/./b/../c` -> `a/c`; `..` never
/// climbs above the root.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary folder removed on drop (unless kept).
#[derive(Debug)]
pub(crate) struct TempDir {
    pub(crate) path: PathBuf,
    pub(crate) keep: bool,
}

impl TempDir {
    pub(crate) fn new() -> Result<Self, HarnessError> {
        let base = std::env::temp_dir();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("svcintent-check-{}-{n}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path, keep: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(&base)(e)),
            }
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            // Files the daemons made are ours (mapped root is our uid); folders they made
            // read-only would stop removal, so open them up first.
            let _ = make_writable(&self.path);
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn make_writable(dir: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.is_dir() {
        let mut perms = meta.permissions();
        if perms.mode() & 0o700 != 0o700 {
            perms.set_mode(perms.mode() | 0o700);
            std::fs::set_permissions(dir, perms)?;
        }
        for entry in std::fs::read_dir(dir)? {
            make_writable(&entry?.path())?;
        }
    }
    Ok(())
}

/// What a sandboxed run printed and how it ended.
#[derive(Debug, Clone, Default)]
pub struct RunOutput {
    /// Exit code (`None`: killed by a signal).
    pub status: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error, without `timeout`'s own notices.
    pub stderr: String,
    /// `timeout(1)` had to stop it.
    pub timed_out: bool,
}

impl RunOutput {
    /// Exited with 0.
    pub fn success(&self) -> bool {
        self.status == Some(0) && !self.timed_out
    }

    /// Standard error then standard output.
    pub fn combined(&self) -> String {
        let mut s = self.stderr.clone();
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&self.stdout);
        s
    }

    /// `code 1` or `a signal`.
    pub fn status_text(&self) -> String {
        match self.status {
            Some(code) => format!("code {code}"),
            None => "a signal".into(),
        }
    }
}

#[derive(Debug, Clone)]
struct Bind {
    src: PathBuf,
    dst: PathBuf,
    dir: bool,
    read_only: bool,
}

/// One check's private root. See the module docs.
#[derive(Debug)]
pub struct Sandbox {
    dir: TempDir,
    root: PathBuf,
    tools: Tools,
    daemon: Daemon,
    host: String,
    timeout: std::time::Duration,
    extra_binds: Vec<PathBuf>,
    binds: Option<Vec<Bind>>,
}

impl Sandbox {
    /// Copies the job's host folder into a fresh root and adds the usual runtime folders.
    pub(crate) fn new(ctx: &Ctx, job: &Job, extra_binds: &[PathBuf]) -> Result<Self, HarnessError> {
        let mut dir = TempDir::new()?;
        dir.keep = ctx.opts.keep_sandboxes;
        let root = dir.path.join("root");
        copy_tree(&job.host_dir, &root)?;
        let sb = Sandbox {
            dir,
            root,
            tools: ctx.tools.clone(),
            daemon: job.daemon,
            host: job.host.clone(),
            timeout: ctx.opts.timeout,
            extra_binds: extra_binds.to_vec(),
            binds: None,
        };
        for d in ["tmp", "var/tmp"] {
            if !sb.exists(d) {
                sb.mkdir(d)?;
                let p = sb.root.join(d);
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o1777))
                    .map_err(io_err(&p))?;
            }
        }
        for d in ["run/lock", "var/log", "var/lib", "var/cache", HARNESS_DIR] {
            if !sb.exists(d) {
                sb.mkdir(d)?;
            }
        }
        // Debian's compatibility links, unless the tree renders something there.
        for (link, target) in [("var/run", "/run"), ("var/lock", "/run/lock")] {
            if !sb.exists(link) {
                let p = sb.host_path(link)?;
                std::os::unix::fs::symlink(target, &p).map_err(io_err(&p))?;
            }
        }
        Ok(sb)
    }

    /// The temporary root folder (outside view).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The outside path of `inside` (absolute or root-relative), refusing to pass through a
    /// symlink of the copied tree, so a write never lands outside the root.
    pub fn host_path(&self, inside: impl AsRef<Path>) -> Result<PathBuf, HarnessError> {
        let rel = normalize(inside.as_ref());
        let mut cur = self.root.clone();
        for comp in rel.components() {
            if let Ok(meta) = std::fs::symlink_metadata(&cur)
                && meta.file_type().is_symlink()
            {
                return Err(HarnessError::BadTree {
                    path: cur,
                    reason: "symlink on the way to a file the harness must write".into(),
                });
            }
            cur.push(comp);
        }
        if let Ok(meta) = std::fs::symlink_metadata(&cur)
            && meta.file_type().is_symlink()
        {
            return Err(HarnessError::BadTree {
                path: cur,
                reason: "the harness must write here but the tree has a symlink".into(),
            });
        }
        Ok(cur)
    }

    /// Whether anything (file, folder, symlink) is at `inside`.
    pub fn exists(&self, inside: impl AsRef<Path>) -> bool {
        std::fs::symlink_metadata(self.root.join(normalize(inside.as_ref()))).is_ok()
    }

    /// Creates a folder (and its parents) inside the root.
    pub fn mkdir(&self, inside: impl AsRef<Path>) -> Result<(), HarnessError> {
        let p = self.host_path(inside)?;
        std::fs::create_dir_all(&p).map_err(io_err(&p))
    }

    /// Writes a file inside the root, creating its folder.
    pub fn write(&self, inside: impl AsRef<Path>, contents: &[u8]) -> Result<(), HarnessError> {
        let inside = inside.as_ref();
        if let Some(parent) = normalize(inside).parent() {
            self.mkdir(parent)?;
        }
        let p = self.host_path(inside)?;
        std::fs::write(&p, contents).map_err(io_err(&p))
    }

    /// Reads a file of the root (following symlinks inside the root is not attempted).
    pub fn read(&self, inside: impl AsRef<Path>) -> Option<String> {
        let p = self.root.join(normalize(inside.as_ref()));
        std::fs::read(p)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Runs `argv` inside the sandbox with a clean environment plus `env`.
    pub fn run(
        &mut self,
        argv: &[OsString],
        env: &[(&str, &str)],
    ) -> Result<RunOutput, HarnessError> {
        if self.binds.is_none() {
            self.binds = Some(self.plan_binds()?);
        }
        let binds = self.binds.as_deref().unwrap_or_default();
        let marker = self.dir.path.join("ready");
        let _ = std::fs::remove_file(&marker);
        let script = self.script(binds, &marker);

        let secs = self.timeout.as_secs_f64().max(0.001);
        let mut cmd = Command::new(&self.tools.timeout);
        cmd.arg("-v")
            .arg("-k")
            .arg("5s")
            .arg(format!("{secs}s"))
            .arg(&self.tools.unshare)
            .args([
                "--user",
                "--map-root-user",
                "--mount",
                "--propagation",
                "private",
                "--net",
                "--",
            ])
            .arg(&self.tools.sh)
            .arg("-c")
            .arg(script)
            .arg("svcintent-sandbox")
            .args(argv)
            .env_clear()
            .env("PATH", SANDBOX_PATH)
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .env("HOME", "/root")
            .env("TZ", "UTC")
            .envs(env.iter().copied())
            .current_dir(&self.dir.path)
            .stdin(Stdio::null());
        let out = cmd.output().map_err(|e| {
            self.sandbox_err(format!("cannot run {}: {e}", self.tools.timeout.display()))
        })?;

        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let raw_err = String::from_utf8_lossy(&out.stderr).into_owned();
        let mut timed_out = false;
        let mut stderr = String::new();
        for line in raw_err.lines() {
            // `timeout -v` names itself by the path it was started with.
            if line.contains("timeout: sending signal ") {
                timed_out = true;
            } else {
                stderr.push_str(line);
                stderr.push('\n');
            }
        }
        let ready = marker.exists();
        if !ready && !timed_out {
            return Err(self.sandbox_err(format!(
                "the sandbox did not come up ({}): {}",
                out.status,
                super::output::tail(&format!("{stderr}{stdout}"), 2000)
            )));
        }
        Ok(RunOutput {
            status: out.status.code(),
            stdout,
            stderr,
            timed_out,
        })
    }

    pub(crate) fn sandbox_err(&self, detail: String) -> HarnessError {
        let detail = if self.dir.keep {
            format!("{detail} (sandbox kept at {})", self.dir.path.display())
        } else {
            detail
        };
        HarnessError::Sandbox {
            daemon: self.daemon,
            host: self.host.clone(),
            detail,
        }
    }

    fn script(&self, binds: &[Bind], marker: &Path) -> OsString {
        let mount = quote(self.tools.mount.as_os_str());
        let mut s: Vec<u8> = b"set -e\n".to_vec();
        for b in binds {
            let src = quote(b.src.as_os_str());
            let dst = quote(b.dst.as_os_str());
            let flag: &[u8] = if b.dir { b"--rbind" } else { b"--bind" };
            line(&mut s, &[&mount, b" ", flag, b" ", &src, b" ", &dst]);
            if b.read_only {
                // Defence in depth only: a remount refused because the source carries locked
                // flags leaves a read-write bind, through which mapped root still cannot write
                // what our user cannot.
                line(
                    &mut s,
                    &[
                        &mount,
                        b" -o remount,bind,ro ",
                        &dst,
                        b" 2>/dev/null || true",
                    ],
                );
            }
        }
        line(&mut s, &[b": > ", &quote(marker.as_os_str())]);
        line(
            &mut s,
            &[
                b"exec ",
                &quote(self.tools.chroot.as_os_str()),
                b" ",
                &quote(self.root.as_os_str()),
                b" \"$@\"",
            ],
        );
        OsString::from_vec(s)
    }

    fn plan_binds(&self) -> Result<Vec<Bind>, HarnessError> {
        let mut binds = Vec::new();
        for top in SYSTEM_TOP {
            self.merge(&Path::new("/").join(top), Path::new(top), false, &mut binds)?;
        }
        for entry in SYSTEM_ETC {
            self.merge(
                &Path::new("/etc").join(entry),
                &Path::new("etc").join(entry),
                true,
                &mut binds,
            )?;
        }
        for extra in &self.extra_binds {
            self.merge(extra, &normalize(extra), true, &mut binds)?;
        }
        for special in ["dev", "proc"] {
            let dst = self.host_path(special)?;
            if !dst.is_dir() {
                std::fs::create_dir_all(&dst).map_err(io_err(&dst))?;
            }
            binds.push(Bind {
                src: Path::new("/").join(special),
                dst,
                dir: true,
                read_only: false,
            });
        }
        Ok(binds)
    }

    /// Shows the machine's `src` at `rel` inside the root: bind it where the root has nothing,
    /// recurse where both are folders, leave rendered files alone. Symlinks are copied as
    /// symlinks (they resolve inside the root), except `src` itself when `follow` is set.
    fn merge(
        &self,
        src: &Path,
        rel: &Path,
        follow: bool,
        binds: &mut Vec<Bind>,
    ) -> Result<(), HarnessError> {
        let meta = if follow {
            std::fs::metadata(src)
        } else {
            std::fs::symlink_metadata(src)
        };
        let Ok(meta) = meta else { return Ok(()) };
        let dst = self.host_path(rel)?;
        let here = std::fs::symlink_metadata(&dst);
        if meta.file_type().is_symlink() {
            if here.is_err() {
                if let Some(parent) = rel.parent() {
                    self.mkdir(parent)?;
                }
                let target = std::fs::read_link(src).map_err(io_err(src))?;
                std::os::unix::fs::symlink(target, &dst).map_err(io_err(&dst))?;
            }
            return Ok(());
        }
        match here {
            Err(_) => {
                if !(meta.is_dir() || meta.is_file()) {
                    return Ok(());
                }
                if let Some(parent) = rel.parent() {
                    self.mkdir(parent)?;
                }
                if meta.is_dir() {
                    std::fs::create_dir(&dst).map_err(io_err(&dst))?;
                } else {
                    std::fs::write(&dst, b"").map_err(io_err(&dst))?;
                }
                binds.push(Bind {
                    src: src.to_path_buf(),
                    dst,
                    dir: meta.is_dir(),
                    read_only: true,
                });
            }
            Ok(mine) if mine.is_dir() && meta.is_dir() => {
                let Ok(entries) = std::fs::read_dir(src) else {
                    return Ok(()); // unreadable for us: nothing to show
                };
                let mut names: Vec<OsString> = entries
                    .filter_map(|e| e.ok().map(|e| e.file_name()))
                    .collect();
                names.sort();
                for name in names {
                    self.merge(&src.join(&name), &rel.join(&name), false, binds)?;
                }
            }
            Ok(_) => {} // the rendered file wins
        }
        Ok(())
    }
}

fn line(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for p in parts {
        out.extend_from_slice(p);
    }
    out.push(b'\n');
}

/// Single-quotes a word for `sh`.
fn quote(s: &OsStr) -> Vec<u8> {
    let mut out = vec![b'\''];
    for &b in s.as_bytes() {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

/// Copies a host folder: files with their permissions, symlinks as symlinks, nothing else.
fn copy_tree(from: &Path, to: &Path) -> Result<(), HarnessError> {
    std::fs::create_dir_all(to).map_err(io_err(to))?;
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .map_err(io_err(from))?
        .collect::<Result<_, _>>()
        .map_err(io_err(from))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type().map_err(io_err(&src))?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&src).map_err(io_err(&src))?;
            std::os::unix::fs::symlink(target, &dst).map_err(io_err(&dst))?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).map_err(io_err(&src))?;
        }
    }
    Ok(())
}
