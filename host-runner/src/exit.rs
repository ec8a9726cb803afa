//! Exit codes of the `svcintent` command (documented in `docs/cli.md`). Scripts and CI may rely
//! on them: they never change meaning.

/// Success: no errors (warnings allowed); `render --check`: the tree is up to date.
pub const OK: u8 = 0;
/// The intent has errors (`lint`, `render`), or the daemons rejected the tree (`validate`).
pub const ERRORS: u8 = 1;
/// Bad command line: unknown option, unknown diagnostic code, no site to work on.
pub const USAGE: u8 = 2;
/// `render --check`: the output directory differs from what the intent renders to.
pub const DRIFT: u8 = 3;
/// `apply`: the host changed (or, with `--check`, would change). Same number as [`DRIFT`]:
/// "something differs".
pub const CHANGED: u8 = 3;
/// Reading the site or writing the output failed (missing file, not UTF-8, permissions,
/// another render holds the lock).
pub const IO: u8 = 4;
/// A bug in svcintent: the module crashed, broke the protocol, or gave an unsafe output path.
pub const INTERNAL: u8 = 5;
/// The daemon-check harness could not run (`validate`: a daemon or tool is missing).
pub const HARNESS: u8 = 6;
/// `apply`: a step failed; the previous files are back and active.
pub const ROLLED_BACK: u8 = 7;
/// `apply`: unsafe input, nothing changed (host not in the tree, tree and manifest disagree,
/// another site, files changed by hand); `rollout`: the guard refuses the change.
pub const REFUSED: u8 = 8;
/// `apply`: a step failed and putting the previous state back failed too.
pub const ROLLBACK_FAILED: u8 = 9;
/// The compiler ran out of fuel (`--fuel`).
pub const FUEL: u8 = 10;
/// The compiler hit the memory limit (`--max-memory`).
pub const MEMORY: u8 = 11;
/// The compiler hit the wall-clock timeout (`--timeout`).
pub const TIMEOUT: u8 = 12;
/// The compiler exhausted its stack (`--max-stack`).
pub const STACK: u8 = 13;
/// `apply`: the host is applied, but BIRD did not export every VIP it announces within
/// `site.deploy.announce_timeout`: a rollout must not go on to the next batch.
pub const NOT_ANNOUNCED: u8 = 14;
