//! The engines that serve JSON requests ([`svcintent_core::api`]): the embedded module under
//! wasmtime with sandbox limits ([`EngineKind::Wasm`], the default), or the same core linked
//! natively ([`EngineKind::Native`], for comparison and debugging). Both take the same request
//! text and return the same response text.

mod cache;
mod wasm;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use cache::{CacheOutcome, CachePolicy};

/// Which engine serves requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// The embedded module in wasmtime, with [`Limits`].
    #[default]
    Wasm,
    /// The core compiled into this binary; no limits.
    Native,
}

/// Limits for each call into the module. Each exhausted limit is its own [`EngineError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel: roughly one unit per WebAssembly instruction.
    pub fuel: u64,
    /// Most linear memory the module may have, in bytes.
    pub max_memory: u64,
    /// Wall-clock time for one call.
    pub timeout: Duration,
    /// Most native stack the module's WebAssembly frames may use, in bytes.
    pub max_stack: usize,
}

impl Limits {
    /// Default fuel: about 10 times what rendering a 10,000-service site takes (103 G).
    pub const DEFAULT_FUEL: u64 = 1_000_000_000_000;
    /// Default memory: 3 GiB, of the 4 GiB a 32-bit module can address.
    pub const DEFAULT_MAX_MEMORY: u64 = 3 << 30;
    /// Default wall-clock timeout: longer than the default fuel lasts, so that fuel (which is
    /// deterministic) is the limit a large site meets first; the timeout catches a stuck call.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
    /// Default stack for WebAssembly frames.
    pub const DEFAULT_MAX_STACK: usize = 4 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: Self::DEFAULT_FUEL,
            max_memory: Self::DEFAULT_MAX_MEMORY,
            timeout: Self::DEFAULT_TIMEOUT,
            max_stack: Self::DEFAULT_MAX_STACK,
        }
    }
}

/// What one call cost (for `--stats`; fuel and memory with the wasm engine only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Size of the module's linear memory at the end of a successful call, in bytes (0 after a
    /// failure). It never shrinks, so this is the most the call used.
    pub memory: u64,
    /// Wall-clock time of the call (instantiation included; for a stream, without the time
    /// its consumer took over the parts).
    pub elapsed: Duration,
    /// How many parts the response came in (1 for [`Engine::call`]).
    pub parts: u64,
    /// The response's size in bytes (all parts together).
    pub response_bytes: u64,
}

/// What a stream's consumer says after each part: go on, or stop the request there.
pub type Flow = std::ops::ControlFlow<()>;

/// Why a request could not be served.
#[derive(Debug)]
pub enum EngineError {
    /// The call used all its fuel.
    OutOfFuel {
        /// The limit.
        fuel: u64,
    },
    /// The module tried to grow its memory past the limit.
    OutOfMemory {
        /// The limit, in bytes.
        limit: u64,
        /// The size the module asked for, in bytes.
        requested: u64,
    },
    /// The call ran longer than the timeout.
    Timeout {
        /// The limit.
        timeout: Duration,
    },
    /// The module's WebAssembly frames used all of their stack.
    StackOverflow {
        /// The limit, in bytes.
        max_stack: usize,
    },
    /// The module trapped for another reason (a bug in svcintent).
    Trap(String),
    /// The module broke the ABI, or could not be compiled or loaded (a bug or a broken build).
    Module(String),
}

impl EngineError {
    /// The process exit code for this error (see `docs/cli.md`).
    pub fn exit_code(&self) -> u8 {
        match self {
            EngineError::OutOfFuel { .. } => crate::exit::FUEL,
            EngineError::OutOfMemory { .. } => crate::exit::MEMORY,
            EngineError::Timeout { .. } => crate::exit::TIMEOUT,
            EngineError::StackOverflow { .. } => crate::exit::STACK,
            EngineError::Trap(_) | EngineError::Module(_) => crate::exit::INTERNAL,
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::OutOfFuel { fuel } => write!(
                f,
                "the compiler ran out of fuel (limit {fuel} units, about one per WebAssembly instruction); \
                 raise it with --fuel N if the site really is this large"
            ),
            EngineError::OutOfMemory { limit, requested } => write!(
                f,
                "the compiler needed more than {} of memory (it asked for {}); raise the limit with --max-memory SIZE \
                 (at most 4GiB)",
                human_bytes(*limit),
                human_bytes(*requested)
            ),
            EngineError::Timeout { timeout } => write!(
                f,
                "the compiler did not finish within {}; raise the limit with --timeout DURATION",
                human_duration(*timeout)
            ),
            EngineError::StackOverflow { max_stack } => write!(
                f,
                "the compiler exhausted its {} stack; raise the limit with --max-stack SIZE",
                human_bytes(*max_stack as u64)
            ),
            EngineError::Trap(message) => write!(
                f,
                "the compiler module crashed ({message}); this is a bug in svcintent: please report it with the input"
            ),
            EngineError::Module(message) => {
                write!(f, "the compiler module cannot be used: {message}")
            }
        }
    }
}

impl std::error::Error for EngineError {}

/// Serves requests with one engine.
#[derive(Debug)]
pub struct Engine {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Native,
    Wasm(Box<wasm::WasmEngine>),
}

impl Engine {
    /// An engine of `kind`. For [`EngineKind::Wasm`] this compiles the module or loads it from
    /// the cache; the outcome is returned for `--stats` and warnings.
    pub fn new(
        kind: EngineKind,
        limits: Limits,
        cache: &CachePolicy,
    ) -> Result<(Engine, CacheOutcome), EngineError> {
        match kind {
            EngineKind::Native => Ok((
                Engine {
                    inner: Inner::Native,
                },
                CacheOutcome::NotUsed,
            )),
            EngineKind::Wasm => {
                let (engine, outcome) = wasm::WasmEngine::new(limits, cache)?;
                Ok((
                    Engine {
                        inner: Inner::Wasm(Box::new(engine)),
                    },
                    outcome,
                ))
            }
        }
    }

    /// Serves one JSON request.
    pub fn call(&self, request: &str) -> Result<(String, CallStats), EngineError> {
        match &self.inner {
            Inner::Native => {
                let start = std::time::Instant::now();
                let response =
                    std::panic::catch_unwind(|| svcintent_core::api::handle_json(request))
                        .map_err(|_| EngineError::Trap("panic in the native core".to_owned()))?;
                let stats = CallStats {
                    elapsed: start.elapsed(),
                    parts: 1,
                    response_bytes: response.len() as u64,
                    ..CallStats::default()
                };
                Ok((response, stats))
            }
            Inner::Wasm(engine) => engine.call(request),
        }
    }

    /// Serves one request in parts (`svcintent_core::api::Stream`, `docs/abi.md`): `consume`
    /// gets each part as soon as the module hands it out, and the module waits meanwhile, so
    /// the whole response never has to be in memory. A part is only valid during its call.
    /// When `consume` breaks, the request ends there (not an error).
    pub fn stream(
        &self,
        request: &str,
        consume: &mut (dyn FnMut(&[u8]) -> Flow + Send),
    ) -> Result<CallStats, EngineError> {
        match &self.inner {
            Inner::Native => {
                let start = std::time::Instant::now();
                let mut consuming = Duration::ZERO;
                let mut stats = CallStats::default();
                let mut deliver = |part: Vec<u8>| {
                    stats.parts += 1;
                    stats.response_bytes += part.len() as u64;
                    let t = std::time::Instant::now();
                    let flow = consume(&part);
                    consuming += t.elapsed();
                    flow
                };
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let (mut stream, first) = svcintent_core::api::Stream::start(request);
                    if deliver(first).is_break() {
                        return;
                    }
                    while let Some(part) = stream.next_part() {
                        if deliver(part).is_break() {
                            return;
                        }
                    }
                }))
                .map_err(|_| EngineError::Trap("panic in the native core".to_owned()))?;
                stats.elapsed = start.elapsed().saturating_sub(consuming);
                Ok(stats)
            }
            Inner::Wasm(engine) => engine.stream(request, consume),
        }
    }

    /// Which engine this is.
    pub fn kind(&self) -> EngineKind {
        match self.inner {
            Inner::Native => EngineKind::Native,
            Inner::Wasm(_) => EngineKind::Wasm,
        }
    }
}

/// `3GiB`, `512MiB`, `1234B`: the largest binary unit that divides exactly, else one decimal.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size {
            return if n.is_multiple_of(size) {
                format!("{}{unit}", n / size)
            } else {
                format!("{:.1}{unit}", n as f64 / size as f64)
            };
        }
    }
    format!("{n}B")
}

/// `120s`, `1.5s`, `250ms`.
pub fn human_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() > 0 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The directory of the compiled-module cache when none is given: `$SVCINTENT_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/svcintent`, else `~/.cache/svcintent`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let absolute = |v: Option<std::ffi::OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    absolute(std::env::var_os("SVCINTENT_CACHE_DIR"))
        .or_else(|| absolute(std::env::var_os("XDG_CACHE_HOME")).map(|p| p.join("svcintent")))
        .or_else(|| absolute(std::env::var_os("HOME")).map(|p| p.join(".cache").join("svcintent")))
}
