//! The embedded module under wasmtime, one fresh instance per call, with fuel, a memory cap, a
//! wall-clock timeout (epoch interruption and a timer thread) and a stack limit. The memory
//! protocol is the one in `docs/abi.md`.

use std::sync::mpsc;
use std::time::Instant;

use wasmtime::{
    Config, Engine, Instance, Module, OptLevel, ResourceLimiter, Store, StoreLimits,
    StoreLimitsBuilder, Trap, TypedFunc,
};

use super::cache::{self, CacheOutcome, CachePolicy};
use super::{CallStats, EngineError, Limits};
use crate::module::{ABI_VERSION, MODULE};

/// Extra native stack for the thread that runs the module, on top of `Limits::max_stack`:
/// wasmtime's own frames and the host code around the call.
const HOST_STACK_MARGIN: usize = 8 << 20;

#[derive(Debug)]
pub(super) struct WasmEngine {
    engine: Engine,
    module: Module,
    limits: Limits,
}

/// The store's data: the memory limiter, which remembers whether it said no.
struct State {
    limits: StoreLimits,
    max_memory: u64,
    /// The size the module asked for when growing its memory was refused.
    refused: Option<u64>,
}

impl ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if !allowed {
            self.refused = Some(desired as u64);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

/// The engine configuration. Everything that changes the generated code is fixed here (and
/// covered by the cache key through `Engine::precompile_compatibility_hash`); the limits that
/// vary per run (fuel amount, timeout, memory) are store settings.
fn config(limits: &Limits) -> Config {
    let mut config = Config::new();
    config
        .cranelift_opt_level(OptLevel::Speed)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(limits.max_stack)
        // Only checked against max_wasm_stack (no async calls are made).
        .async_stack_size(limits.max_stack.saturating_add(HOST_STACK_MARGIN))
        .parallel_compilation(true);
    config
}

impl WasmEngine {
    pub(super) fn new(
        limits: Limits,
        cache: &CachePolicy,
    ) -> Result<(WasmEngine, CacheOutcome), EngineError> {
        if limits.max_stack == 0 {
            return Err(EngineError::Module(
                "--max-stack must be more than 0".to_owned(),
            ));
        }
        let engine =
            Engine::new(&config(&limits)).map_err(|e| EngineError::Module(format!("{e:#}")))?;
        let (module, outcome) = cache::load_or_compile(&engine, MODULE, cache)?;
        if let Some(import) = module.imports().next() {
            return Err(EngineError::Module(format!(
                "the module imports {}::{}; it must import nothing",
                import.module(),
                import.name()
            )));
        }
        Ok((
            WasmEngine {
                engine,
                module,
                limits,
            },
            outcome,
        ))
    }

    /// Serves one request on a thread of its own, whose stack fits `max_stack`.
    pub(super) fn call(&self, request: &str) -> Result<(String, CallStats), EngineError> {
        let stack = self.limits.max_stack.saturating_add(HOST_STACK_MARGIN);
        std::thread::scope(|scope| {
            let runner = std::thread::Builder::new()
                .name("svcintent-module".to_owned())
                .stack_size(stack)
                .spawn_scoped(scope, || self.call_here(request))
                .map_err(|e| {
                    EngineError::Module(format!("cannot start the module's thread: {e}"))
                })?;
            runner.join().unwrap_or_else(|_| {
                Err(EngineError::Trap(
                    "the host thread running the module panicked".to_owned(),
                ))
            })
        })
    }

    fn call_here(&self, request: &str) -> Result<(String, CallStats), EngineError> {
        let start = Instant::now();
        let limits = self.limits;
        let max_memory = usize::try_from(limits.max_memory).unwrap_or(usize::MAX);
        let state = State {
            limits: StoreLimitsBuilder::new()
                .memory_size(max_memory)
                .instances(1)
                .memories(1)
                .tables(1)
                .build(),
            max_memory: limits.max_memory,
            refused: None,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s);
        store
            .set_fuel(limits.fuel)
            .map_err(|e| EngineError::Module(format!("{e:#}")))?;
        store.set_epoch_deadline(1);
        store.epoch_deadline_trap();

        // The timer: one epoch tick when the timeout passes, unless the call finishes first
        // (dropping `done` wakes the timer, which then exits without ticking).
        let (done, wait) = mpsc::channel::<()>();
        let engine = self.engine.clone();
        let timeout = limits.timeout;
        let timer = std::thread::Builder::new()
            .name("svcintent-timer".to_owned())
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(timeout) {
                    engine.increment_epoch();
                    return true;
                }
                false
            })
            .map_err(|e| EngineError::Module(format!("cannot start the timer thread: {e}")))?;

        let result = run(&mut store, &self.module, request);
        drop(done);
        let timed_out = timer.join().unwrap_or(false);

        let fuel_left = store.get_fuel().unwrap_or(0);
        let stats = CallStats {
            fuel_used: limits.fuel.saturating_sub(fuel_left),
            memory: result.as_ref().map_or(0, |(_, m)| *m),
            elapsed: start.elapsed(),
        };
        match result {
            Ok((response, _)) => Ok((response, stats)),
            Err(Failure::Wasm(e)) => Err(classify(&e, store.data(), &limits, timed_out)),
            Err(Failure::Abi(message)) => Err(match store.data().refused {
                Some(requested) => EngineError::OutOfMemory {
                    limit: store.data().max_memory,
                    requested,
                },
                None => EngineError::Module(message),
            }),
        }
    }
}

enum Failure {
    /// wasmtime failed: a trap, a refused memory growth, instantiation.
    Wasm(wasmtime::Error),
    /// The module broke the protocol.
    Abi(String),
}

impl From<wasmtime::Error> for Failure {
    fn from(e: wasmtime::Error) -> Self {
        Failure::Wasm(e)
    }
}

impl From<wasmtime::MemoryAccessError> for Failure {
    fn from(e: wasmtime::MemoryAccessError) -> Self {
        Failure::Abi(format!("the module gave a buffer outside its memory ({e})"))
    }
}

struct Exports {
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), ()>,
    call: TypedFunc<(u32, u32), u64>,
}

/// Instantiates the module and runs the ABI: alloc, write, call, read, free. Returns the
/// response and the final memory size.
fn run(store: &mut Store<State>, module: &Module, request: &str) -> Result<(String, u64), Failure> {
    let instance = Instance::new(&mut *store, module, &[])?;
    let version = instance
        .get_typed_func::<(), u32>(&mut *store, "svcintent_abi_version")?
        .call(&mut *store, ())?;
    if version != ABI_VERSION {
        return Err(Failure::Abi(format!(
            "the module speaks ABI version {version}; this host speaks {ABI_VERSION}"
        )));
    }
    let memory = instance
        .get_memory(&mut *store, "memory")
        .ok_or_else(|| Failure::Abi("the module exports no memory".to_owned()))?;
    let f = Exports {
        alloc: instance.get_typed_func(&mut *store, "alloc")?,
        free: instance.get_typed_func(&mut *store, "free")?,
        call: instance.get_typed_func(&mut *store, "svcintent_call")?,
    };

    let bytes = request.as_bytes();
    let len = u32::try_from(bytes.len()).map_err(|_| {
        Failure::Abi(format!(
            "the request is {} bytes; the module takes at most 4GiB",
            bytes.len()
        ))
    })?;
    let ptr = f.alloc.call(&mut *store, len)?;
    // `alloc(0)` returns 0 by the ABI, and `svcintent_call(0, 0)` is the empty request.
    if ptr == 0 && len > 0 {
        return Err(Failure::Abi(format!(
            "the module could not allocate {len} bytes for the request"
        )));
    }
    memory.write(&mut *store, ptr as usize, bytes)?;

    let packed = f.call.call(&mut *store, (ptr, len))?;
    if packed == 0 {
        return Err(Failure::Abi(
            "the module could not allocate its response".to_owned(),
        ));
    }
    let (out_ptr, out_len) = ((packed >> 32) as u32, (packed & 0xffff_ffff) as u32);
    let mut response = vec![0; out_len as usize];
    memory.read(&*store, out_ptr as usize, &mut response)?;
    f.free.call(&mut *store, (out_ptr, out_len))?;
    f.free.call(&mut *store, (ptr, len))?;

    let response = String::from_utf8(response).map_err(|e| {
        Failure::Abi(format!(
            "the module's response is not UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok((response, memory.data_size(&*store) as u64))
}

/// Maps a wasmtime failure to the limit that caused it. A refused memory growth wins: the Rust
/// allocator in the module turns it into an abort (`unreachable`).
fn classify(e: &wasmtime::Error, state: &State, limits: &Limits, timed_out: bool) -> EngineError {
    if let Some(requested) = state.refused {
        return EngineError::OutOfMemory {
            limit: state.max_memory,
            requested,
        };
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => EngineError::OutOfFuel { fuel: limits.fuel },
        Some(Trap::Interrupt) => EngineError::Timeout {
            timeout: limits.timeout,
        },
        Some(Trap::StackOverflow) => EngineError::StackOverflow {
            max_stack: limits.max_stack,
        },
        _ if timed_out => EngineError::Timeout {
            timeout: limits.timeout,
        },
        Some(trap) => EngineError::Trap(trap.to_string()),
        None => EngineError::Module(format!("{e:#}")),
    }
}
