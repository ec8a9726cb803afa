//! The embedded module under wasmtime, one fresh instance per call, with fuel, a memory cap, a
//! wall-clock timeout (epoch interruption and a timer thread) and a stack limit. The memory
//! protocol is the one in `docs/abi.md`.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use wasmtime::{
    Config, Engine, Instance, Memory, Module, OptLevel, ResourceLimiter, Store, StoreLimits,
    StoreLimitsBuilder, Trap, TypedFunc,
};

use super::cache::{self, CacheOutcome, CachePolicy};
use super::{CallStats, EngineError, Flow, Limits};
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
        let mut response = String::new();
        let stats = self.on_module_thread(&mut |store| {
            let (text, memory) = run(store, &self.module, request)?;
            let done = Done {
                memory,
                parts: 1,
                response_bytes: text.len() as u64,
                consuming: Duration::ZERO,
            };
            response = text;
            Ok(done)
        })?;
        Ok((response, stats))
    }

    /// Serves one request in parts ([`super::Engine::stream`]), on a thread of its own.
    pub(super) fn stream(
        &self,
        request: &str,
        consume: &mut (dyn FnMut(&[u8]) -> Flow + Send),
    ) -> Result<CallStats, EngineError> {
        self.on_module_thread(&mut |store| run_stream(store, &self.module, request, consume))
    }

    /// Runs `job` in a fresh store with the limits, on a thread whose stack fits `max_stack`.
    fn on_module_thread(
        &self,
        job: &mut (dyn FnMut(&mut Store<State>) -> Result<Done, Failure> + Send),
    ) -> Result<CallStats, EngineError> {
        let stack = self.limits.max_stack.saturating_add(HOST_STACK_MARGIN);
        std::thread::scope(|scope| {
            let runner = std::thread::Builder::new()
                .name("svcintent-module".to_owned())
                .stack_size(stack)
                .spawn_scoped(scope, || self.run_here(job))
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

    fn run_here(
        &self,
        job: &mut (dyn FnMut(&mut Store<State>) -> Result<Done, Failure> + Send),
    ) -> Result<CallStats, EngineError> {
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

        let result = job(&mut store);
        drop(done);
        let timed_out = timer.join().unwrap_or(false);

        let fuel_left = store.get_fuel().unwrap_or(0);
        match result {
            Ok(d) => Ok(CallStats {
                fuel_used: limits.fuel.saturating_sub(fuel_left),
                memory: d.memory,
                elapsed: start.elapsed().saturating_sub(d.consuming),
                parts: d.parts,
                response_bytes: d.response_bytes,
            }),
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

/// What a finished job reports.
struct Done {
    /// The final size of the linear memory.
    memory: u64,
    parts: u64,
    response_bytes: u64,
    /// Time spent in the consumer of a stream.
    consuming: Duration,
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

/// The instance's memory and exports.
struct Instantiated {
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), ()>,
}

/// Instantiates the module and checks its ABI version.
fn instantiate(
    store: &mut Store<State>,
    module: &Module,
) -> Result<(Instance, Instantiated), Failure> {
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
    let exports = Instantiated {
        memory,
        alloc: instance.get_typed_func(&mut *store, "alloc")?,
        free: instance.get_typed_func(&mut *store, "free")?,
    };
    Ok((instance, exports))
}

/// Copies `request` into a buffer of the module's; returns its address and length.
fn write_request(
    store: &mut Store<State>,
    f: &Instantiated,
    request: &str,
) -> Result<(u32, u32), Failure> {
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
    f.memory.write(&mut *store, ptr as usize, bytes)?;
    Ok((ptr, len))
}

/// Instantiates the module and runs the ABI: alloc, write, call, read, free. Returns the
/// response and the final memory size.
fn run(store: &mut Store<State>, module: &Module, request: &str) -> Result<(String, u64), Failure> {
    let (instance, f) = instantiate(store, module)?;
    let call: TypedFunc<(u32, u32), u64> =
        instance.get_typed_func(&mut *store, "svcintent_call")?;
    let (ptr, len) = write_request(store, &f, request)?;
    let packed = call.call(&mut *store, (ptr, len))?;
    if packed == 0 {
        return Err(Failure::Abi(
            "the module could not allocate its response".to_owned(),
        ));
    }
    let (out_ptr, out_len) = ((packed >> 32) as u32, (packed & 0xffff_ffff) as u32);
    let mut response = vec![0; out_len as usize];
    f.memory.read(&*store, out_ptr as usize, &mut response)?;
    f.free.call(&mut *store, (out_ptr, out_len))?;
    f.free.call(&mut *store, (ptr, len))?;

    let response = String::from_utf8(response).map_err(|e| {
        Failure::Abi(format!(
            "the module's response is not UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok((response, f.memory.data_size(&*store) as u64))
}

/// Instantiates the module and serves `request` in parts: `svcintent_stream`, then
/// `svcintent_stream_next` until it returns 0, each part handed to `consume` straight from the
/// module's memory and then freed.
fn run_stream(
    store: &mut Store<State>,
    module: &Module,
    request: &str,
    consume: &mut (dyn FnMut(&[u8]) -> Flow + Send),
) -> Result<Done, Failure> {
    let (instance, f) = instantiate(store, module)?;
    let start: TypedFunc<(u32, u32), u64> =
        instance.get_typed_func(&mut *store, "svcintent_stream")?;
    let next: TypedFunc<(), u64> = instance.get_typed_func(&mut *store, "svcintent_stream_next")?;
    let (ptr, len) = write_request(store, &f, request)?;
    let mut packed = start.call(&mut *store, (ptr, len))?;
    f.free.call(&mut *store, (ptr, len))?;
    let mut done = Done {
        memory: 0,
        parts: 0,
        response_bytes: 0,
        consuming: Duration::ZERO,
    };
    if packed == 0 {
        return Err(Failure::Abi(
            "the module could not allocate the first part of its response".to_owned(),
        ));
    }
    while packed != 0 {
        let (part_ptr, part_len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
        let part = f
            .memory
            .data(&*store)
            .get(part_ptr..part_ptr.saturating_add(part_len))
            .ok_or_else(|| Failure::Abi("the module gave a part outside its memory".to_owned()))?;
        done.parts += 1;
        done.response_bytes += part_len as u64;
        let t = Instant::now();
        let flow = consume(part);
        done.consuming += t.elapsed();
        f.free
            .call(&mut *store, (part_ptr as u32, part_len as u32))?;
        if flow.is_break() {
            break;
        }
        packed = next.call(&mut *store, ())?;
    }
    done.memory = f.memory.data_size(&*store) as u64;
    Ok(done)
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
