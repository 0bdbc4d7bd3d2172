//! The GPU context: adapter choice, the buffer pool, the pipeline cache and the command batch.
//!
//! Ops do not submit work: each records a dispatch into the pending batch, and the batch is
//! encoded and submitted when the CPU needs a result (readback, `synchronize()`) or when it
//! grows past `MAX_BATCH`. Buffers referenced by pending dispatches are held by the batch, so
//! a tensor freed before the flush cannot hand its buffer to a later op too early.
use crate::{bail, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

const MAX_BATCH: usize = 256;
const USAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC).union(wgpu::BufferUsages::COPY_DST);

/// Counters the tests and `rustensor.gpu` read.
#[derive(Default)]
pub struct Stats {
    pub allocated: AtomicU64,
    pub reserved: AtomicU64,
    pub readbacks: AtomicU64,
    pub uploads: AtomicU64,
    pub dispatches: AtomicU64,
    pub submits: AtomicU64,
}

/// A pooled device buffer; dropping it returns the buffer to its size class.
pub struct Buffer {
    raw: Option<wgpu::Buffer>,
    class: u64,
}

impl Buffer {
    pub fn raw(&self) -> &wgpu::Buffer {
        // invariant: `raw` is only taken in Drop
        self.raw.as_ref().unwrap_or_else(|| unreachable!("buffer used after drop"))
    }
    pub fn size(&self) -> u64 {
        self.class
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if crate::fork::gpu_inherited() {
            // a forked child must not touch the parent's device: leak the handle instead
            std::mem::forget(self.raw.take());
            return;
        }
        if let (Some(raw), Some(Ok(g))) = (self.raw.take(), GPU.get()) {
            g.stats.allocated.fetch_sub(self.class, Ordering::Relaxed);
            g.lock(&g.pool).entry(self.class).or_default().push(raw);
        }
    }
}

/// A compiled kernel with its bind group layout (fetched once, not per dispatch).
pub struct Kernel {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

struct Dispatch {
    pipeline: Arc<Kernel>,
    bufs: Vec<Arc<Buffer>>,
    params: (usize, usize),
    groups: [u32; 3],
}

#[derive(Default)]
struct Batch {
    ops: Vec<Dispatch>,
    params: Vec<u32>,
}

pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// The adapter has `shader-f16`: float16 tensors may live on it.
    pub f16: bool,
    pub stats: Stats,
    pipelines: Mutex<HashMap<String, Arc<Kernel>>>,
    pool: Mutex<HashMap<u64, Vec<wgpu::Buffer>>>,
    batch: Mutex<Batch>,
    staging: Mutex<Vec<wgpu::Buffer>>,
    /// Errors wgpu reports asynchronously (validation, out of memory), raised at the next sync.
    errors: Arc<Mutex<Vec<String>>>,
    /// One word kernels set when they meet an out-of-range index (like CUDA's device asserts).
    pub(crate) flag: Arc<Buffer>,
}

static GPU: OnceLock<std::result::Result<Gpu, String>> = OnceLock::new();

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// Software adapters (lavapipe, WARP, SwiftShader) count only when the user opts in, so a
/// machine without a GPU never runs "GPU" code on an emulator by surprise.
pub fn software_allowed() -> bool {
    std::env::var("RUSTENSOR_ALLOW_SOFTWARE_GPU").map(|v| v == "1" || v.eq_ignore_ascii_case("true")).unwrap_or(false)
}

fn init() -> std::result::Result<Gpu, String> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12;
    let instance = wgpu::Instance::new(desc);
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    let soft = software_allowed();
    let adapter = adapters
        .into_iter()
        .filter(|a| soft || a.get_info().device_type != wgpu::DeviceType::Cpu)
        .min_by_key(|a| rank(a.get_info().device_type))
        .ok_or_else(|| {
            if soft {
                "no GPU adapter found (Vulkan, Metal or DX12)".to_string()
            } else {
                "no GPU adapter found (Vulkan, Metal or DX12); software adapters such as lavapipe need RUSTENSOR_ALLOW_SOFTWARE_GPU=1".to_string()
            }
        })?;
    let info = adapter.get_info();
    // The adapter's own limits, not WebGPU's defaults: big buffers and bindings.
    let limits = adapter.limits();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("rustensor"),
        required_features: adapter.features() & wgpu::Features::SHADER_F16,
        required_limits: limits.clone(),
        experimental_features: wgpu::ExperimentalFeatures::disabled(),
        memory_hints: wgpu::MemoryHints::Performance,
        trace: wgpu::Trace::Off,
    }))
    .map_err(|e| format!("could not open GPU device {}: {e}", info.name))?;
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
        if let Ok(mut v) = sink.lock() {
            v.push(e.to_string());
        }
    }));
    let flag_raw = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("rustensor error flag"),
        size: 16,
        usage: USAGE,
        mapped_at_creation: false,
    });
    Ok(Gpu {
        device,
        queue,
        info,
        limits,
        f16: adapter.features().contains(wgpu::Features::SHADER_F16),
        stats: Stats::default(),
        pipelines: Mutex::new(HashMap::new()),
        pool: Mutex::new(HashMap::new()),
        batch: Mutex::new(Batch::default()),
        staging: Mutex::new(Vec::new()),
        errors,
        // the flag lives as long as the process, outside the pool (class 0 is never pooled)
        flag: Arc::new(Buffer { raw: Some(flag_raw), class: 0 }),
    })
}

/// The GPU context, opened on first use.
pub fn gpu() -> Result<&'static Gpu> {
    if crate::fork::gpu_inherited() {
        // the device's driver threads stayed in the parent: the first wait would hang
        bail!(
            Runtime,
            "Cannot re-initialize CUDA in forked subprocess. The gpu device was opened before os.fork(); to use it in subprocesses, use the 'spawn' start method"
        );
    }
    match GPU.get_or_init(|| {
        crate::fork::watch();
        let g = init();
        if g.is_ok() {
            crate::fork::gpu_opened();
        }
        g
    }) {
        Ok(g) => Ok(g),
        Err(e) => bail!(Runtime, "GPU is not available: {e}"),
    }
}

pub fn is_available() -> bool {
    gpu().is_ok()
}

/// Size classes: powers of two split in quarters, so reuse wastes at most 25%.
fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(256);
    let p = 1u64 << (63 - b.leading_zeros());
    if b == p {
        return p;
    }
    let q = (p / 4).max(1);
    b.div_ceil(q) * q
}

impl Gpu {
    fn lock<'a, T>(&self, m: &'a Mutex<T>) -> MutexGuard<'a, T> {
        match m.lock() {
            Ok(g) => g,
            Err(e) => e.into_inner(),
        }
    }

    /// (name, backend, device type, driver) of the adapter.
    pub fn adapter_info(&self) -> (String, String, String, String) {
        let i = &self.info;
        (i.name.clone(), format!("{:?}", i.backend), format!("{:?}", i.device_type), i.driver.clone())
    }

    /// The counters by name: bytes allocated and reserved, readbacks, uploads, dispatches, submits.
    pub fn stats_snapshot(&self) -> [(&'static str, u64); 6] {
        let s = &self.stats;
        let r = Ordering::Relaxed;
        [
            ("allocated", s.allocated.load(r)),
            ("reserved", s.reserved.load(r)),
            ("readbacks", s.readbacks.load(r)),
            ("uploads", s.uploads.load(r)),
            ("dispatches", s.dispatches.load(r)),
            ("submits", s.submits.load(r)),
        ]
    }

    /// The largest buffer a kernel can bind.
    pub fn max_binding(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
    }

    /// A buffer of at least `bytes` bytes, from the pool when one of its class is free.
    pub fn alloc(&self, bytes: u64) -> Result<Arc<Buffer>> {
        if bytes > self.max_binding() {
            bail!(
                Runtime,
                "gpu: a tensor of {bytes} bytes exceeds the largest buffer {} can bind ({} bytes)",
                self.info.name,
                self.max_binding()
            );
        }
        // near the binding limit the class may not exceed it; it still covers `bytes`
        let class = size_class(bytes).min(self.max_binding() / 4 * 4).max(bytes.div_ceil(4) * 4);
        let pooled = self.lock(&self.pool).get_mut(&class).and_then(|v| v.pop());
        let raw = match pooled {
            Some(b) => b,
            None => {
                let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
                let b = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: class,
                    usage: USAGE,
                    mapped_at_creation: false,
                });
                if let Some(e) = pollster::block_on(scope.pop()) {
                    bail!(Runtime, "gpu: out of memory allocating {bytes} bytes on {}: {e}", self.info.name);
                }
                self.stats.reserved.fetch_add(class, Ordering::Relaxed);
                b
            }
        };
        self.stats.allocated.fetch_add(class, Ordering::Relaxed);
        Ok(Arc::new(Buffer { raw: Some(raw), class }))
    }

    /// Frees the pooled (unused) buffers, as `torch.cuda.empty_cache()`.
    pub fn empty_cache(&self) {
        // buffers of freed tensors still referenced by unsubmitted work return at the flush
        let _ = self.flush();
        let mut pool = self.lock(&self.pool);
        for (class, v) in pool.drain() {
            self.stats.reserved.fetch_sub(class * v.len() as u64, Ordering::Relaxed);
        }
    }

    /// The compiled pipeline for `key`, compiling `source()` on first use.
    pub fn pipeline(&self, key: &str, source: impl FnOnce() -> String) -> Result<Arc<Kernel>> {
        if let Some(p) = self.lock(&self.pipelines).get(key) {
            return Ok(p.clone());
        }
        let src = source();
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(key),
            source: wgpu::ShaderSource::Wgsl(src.into()),
        });
        let p = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(key),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            bail!(Runtime, "gpu: kernel {key} failed to compile: {e}");
        }
        let layout = p.get_bind_group_layout(0);
        let p = Arc::new(Kernel { pipeline: p, layout });
        self.lock(&self.pipelines).insert(key.to_string(), p.clone());
        Ok(p)
    }

    /// Records one dispatch; `bufs` bind at 1.. in order, `params` at binding 0.
    pub fn dispatch(
        &self,
        pipeline: Arc<Kernel>,
        bufs: &[&Arc<Buffer>],
        params: &[u32],
        groups: [u32; 3],
    ) -> Result<()> {
        let maxg = self.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > maxg) {
            bail!(Runtime, "gpu: launch of {groups:?} workgroups exceeds the adapter's {maxg} per dimension");
        }
        if groups.contains(&0) {
            return Ok(());
        }
        let full = {
            let mut b = self.lock(&self.batch);
            let align = (self.limits.min_storage_buffer_offset_alignment as usize / 4).max(1);
            let start = b.params.len().div_ceil(align) * align;
            b.params.resize(start, 0);
            b.params.extend_from_slice(params);
            if params.is_empty() {
                b.params.push(0);
            }
            let len = b.params.len() - start;
            b.ops.push(Dispatch { pipeline, bufs: bufs.iter().map(|b| (*b).clone()).collect(), params: (start, len), groups });
            b.ops.len() >= MAX_BATCH
        };
        self.stats.dispatches.fetch_add(1, Ordering::Relaxed);
        if full {
            self.flush()?;
        }
        Ok(())
    }

    /// Encodes and submits the pending batch.
    pub fn flush(&self) -> Result<()> {
        // The batch lock is held until the submit: another thread's later ops (which may read
        // this batch's outputs) must not reach the queue first.
        let mut guard = self.lock(&self.batch);
        let batch = std::mem::take(&mut *guard);
        if !batch.ops.is_empty() {
            use wgpu::util::DeviceExt;
            let pbuf = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("rustensor params"),
                contents: as_bytes(&batch.params),
                usage: wgpu::BufferUsages::STORAGE,
            });
            let groups: Vec<wgpu::BindGroup> = batch
                .ops
                .iter()
                .map(|d| {
                    let mut entries = vec![wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: &pbuf,
                            offset: (d.params.0 * 4) as u64,
                            size: std::num::NonZeroU64::new((d.params.1 * 4) as u64),
                        }),
                    }];
                    for (i, b) in d.bufs.iter().enumerate() {
                        entries.push(wgpu::BindGroupEntry { binding: i as u32 + 1, resource: b.raw().as_entire_binding() });
                    }
                    self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: None,
                        layout: &d.pipeline.layout,
                        entries: &entries,
                    })
                })
                .collect();
            let mut enc = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
            {
                let mut pass =
                    enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
                for (d, bg) in batch.ops.iter().zip(&groups) {
                    pass.set_pipeline(&d.pipeline.pipeline);
                    pass.set_bind_group(0, bg, &[]);
                    pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
                }
            }
            self.queue.submit([enc.finish()]);
            self.stats.submits.fetch_add(1, Ordering::Relaxed);
        }
        drop(guard);
        // the batch's buffers go back to the pool here, outside the batch lock
        drop(batch);
        self.check_errors()
    }

    fn check_errors(&self) -> Result<()> {
        let errs = std::mem::take(&mut *self.lock(&self.errors));
        if let Some(e) = errs.first() {
            bail!(Runtime, "gpu: {e}");
        }
        Ok(())
    }

    /// Copies `bytes` host bytes into a fresh buffer.
    pub fn upload(&self, data: &[u8]) -> Result<Arc<Buffer>> {
        let buf = self.alloc(data.len() as u64)?;
        if !data.is_empty() {
            let n = data.len() / 4 * 4;
            self.queue.write_buffer(buf.raw(), 0, &data[..n]);
            if n < data.len() {
                let mut tail = [0u8; 4];
                tail[..data.len() - n].copy_from_slice(&data[n..]);
                self.queue.write_buffer(buf.raw(), n as u64, &tail);
            }
        }
        self.stats.uploads.fetch_add(1, Ordering::Relaxed);
        Ok(buf)
    }

    /// Waits for all work and reads `bytes` bytes of `buf` from byte `offset`.
    /// Also checks the index-error flag that kernels set, as CUDA reports device asserts.
    pub fn readback(&self, buf: &Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
        // copies move whole 32-bit words; float16 data may start or end inside one
        let (start, end) = (offset / 4 * 4, (offset + bytes).div_ceil(4) * 4);
        let mut words = self.readback_words(buf, start, end - start)?;
        words.drain(..(offset - start) as usize);
        words.truncate(bytes as usize);
        Ok(words)
    }

    fn readback_words(&self, buf: &Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
        self.flush()?;
        self.stats.readbacks.fetch_add(1, Ordering::Relaxed);
        let total = bytes + 16;
        let staging = {
            let mut pool = self.lock(&self.staging);
            match pool.iter().position(|b| b.size() >= total) {
                Some(i) => pool.swap_remove(i),
                None => self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("rustensor staging"),
                    size: total.next_power_of_two().max(4096),
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
            }
        };
        let mut enc = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        if bytes > 0 {
            enc.copy_buffer_to_buffer(buf.raw(), offset, &staging, 0, bytes);
        }
        enc.copy_buffer_to_buffer(self.flag.raw(), 0, &staging, bytes, 16);
        enc.clear_buffer(self.flag.raw(), 0, None);
        self.queue.submit([enc.finish()]);
        let slice = staging.slice(0..total);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        if let Err(e) = self.device.poll(wgpu::PollType::Wait { submission_index: None, timeout: None }) {
            bail!(Runtime, "gpu: waiting for the device failed: {e}");
        }
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => bail!(Runtime, "gpu: reading back failed: {e}"),
            Err(_) => bail!(Runtime, "gpu: reading back failed: the map callback never ran"),
        }
        let out = {
            let view = match slice.get_mapped_range() {
                Ok(v) => v,
                Err(e) => bail!(Runtime, "gpu: reading back failed: {e}"),
            };
            view.to_vec()
        };
        staging.unmap();
        self.lock(&self.staging).push(staging);
        self.check_errors()?;
        let flag = u32::from_le_bytes([out[bytes as usize], out[bytes as usize + 1], out[bytes as usize + 2], out[bytes as usize + 3]]);
        if flag != 0 {
            bail!(
                Index,
                "index out of bounds in a gpu kernel (reported at the next synchronisation, as CUDA's device-side asserts are); results computed since are invalid"
            );
        }
        let mut out = out;
        out.truncate(bytes as usize);
        Ok(out)
    }

    /// Blocks until every recorded op has run (`torch.cuda.synchronize()`).
    pub fn synchronize(&self) -> Result<()> {
        self.readback(&self.flag, 0, 0).map(|_| ())
    }
}

pub(crate) fn as_bytes(v: &[u32]) -> &[u8] {
    // SAFETY: u32 has no padding and any byte pattern is a valid u8; the length covers exactly v.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

#[cfg(test)]
mod tests {
    use super::size_class;
    #[test]
    fn size_classes_cover_and_bound_waste() {
        for b in [1u64, 255, 256, 257, 1000, 4096, 5000, 1 << 20, (1 << 20) + 1, 123_456_789] {
            let c = size_class(b);
            assert!(c >= b && c.is_multiple_of(4), "{b} -> {c}");
            assert!(c <= (b.max(256) as f64 * 1.25) as u64 + 4, "{b} -> {c}");
        }
    }
}
