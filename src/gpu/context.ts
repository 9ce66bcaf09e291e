/**
 * GpuContext: the one place that acquires a device and owns what hangs off it (shader and pipeline
 * caches, bind-group layouts, loss tracking). Kernels and the graph executor go through it.
 */
import { DeviceLostError, GpuValidationError, NoAdapterError, ShaderCompileError } from '../errors.ts';
import { getGpuProvider, type DriverChoice, type DriverKind } from './provider.ts';

export interface AdapterReport {
  driver: DriverKind;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
  /** Subgroup sizes the adapter may use (adapter info), when the device has the `subgroups` feature. */
  subgroups?: SubgroupSizes;
}

/** The range of subgroup sizes a kernel may run with; any power of two in it, chosen by the driver per pipeline. */
export interface SubgroupSizes {
  min: number;
  max: number;
}

export type BindingKind = 'uniform' | 'storage' | 'rw' | 'texture';

export interface PipelineSpec {
  /** Human-readable, shown in errors and profiles. */
  label: string;
  code: string;
  entryPoint?: string;
  /** WGSL `override` values (workgroup sizes and the like). */
  constants?: Record<string, number>;
  bindings: readonly BindingKind[];
}

export interface CachedPipeline {
  key: string;
  label: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

export interface AcquireOptions {
  driver?: DriverChoice;
  /** Optional features to enable when the adapter has them. */
  wantFeatures?: GPUFeatureName[];
}

export const LIMIT_NAMES = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
  'maxTextureDimension2D',
  'minStorageBufferOffsetAlignment',
  'minUniformBufferOffsetAlignment',
  'maxBindGroups',
] as const;

/** Optional features requested when the adapter offers them; AcquireOptions.wantFeatures replaces the list. */
export const DEFAULT_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups'];

/**
 * Subgroup kernels are only built when the sizes are known: they are written to be correct for any power of two
 * from min to max, and a size outside what the adapter states would break that promise.
 */
function subgroupSizes(device: GPUDevice, info: GPUAdapterInfo): SubgroupSizes | undefined {
  const min = info.subgroupMinSize;
  const max = info.subgroupMaxSize;
  if (!device.features.has('subgroups') || !min || !max || min > max) return undefined;
  return { min, max };
}

/** GPU buffers and textures created on a device and not destroyed yet (leak checks in soak runs). */
export interface LiveResources {
  buffers: number;
  textures: number;
  /** Their sizes summed (textures at their format's texel size). */
  bytes: number;
}

/** Bytes per texel of the formats mobilessd creates; others count as 4. */
const TEXEL_BYTES: Record<string, number> = {
  rgba8unorm: 4,
  bgra8unorm: 4,
  r32float: 4,
  rgba16float: 8,
  rgba32float: 16,
};

export class GpuContext {
  readonly device: GPUDevice;
  readonly queue: GPUQueue;
  readonly report: AdapterReport;
  readonly hasTimestamps: boolean;
  readonly hasF16: boolean;
  /** Set when the device has `subgroups` and the adapter states its subgroup sizes: kernels may use them. */
  readonly subgroups: SubgroupSizes | undefined;
  private lostInfo: GPUDeviceLostInfo | undefined;
  private destroyed = false;
  private readonly modules = new Map<string, Promise<GPUShaderModule>>();
  private readonly pipelines = new Map<string, Promise<CachedPipeline>>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly lostListeners = new Set<(err: DeviceLostError) => void>();
  /** GPU errors raised outside any error scope; surfaced by throwUncaptured(), never silently dropped. */
  private readonly uncaptured: string[] = [];
  private readonly live: LiveResources = { buffers: 0, textures: 0, bytes: 0 };

  private constructor(device: GPUDevice, report: AdapterReport) {
    this.device = device;
    this.queue = device.queue;
    this.report = report;
    this.hasTimestamps = device.features.has('timestamp-query');
    this.hasF16 = device.features.has('shader-f16');
    this.subgroups = report.subgroups;
    this.trackResources(device);
    device.addEventListener('uncapturederror', (event) => {
      const e = event.error;
      if (this.uncaptured.length < 16) this.uncaptured.push(e.message);
    });
    void device.lost.then((info) => {
      this.lostInfo = info;
      if (this.destroyed) return;
      const err = new DeviceLostError(`GPU device lost (${info.reason}): ${info.message}`);
      for (const l of this.lostListeners) l(err);
    });
  }

  /** Hardware adapter first, then software drivers; limits are the adapter's own, not the defaults. */
  static async acquire(options: AcquireOptions = {}): Promise<GpuContext> {
    const provider = getGpuProvider();
    const choice = options.driver ?? 'auto';
    const failures: string[] = [];
    for await (const { adapter, driver } of provider.adapters(choice)) {
      const requiredLimits: Record<string, number> = {};
      for (const name of LIMIT_NAMES) {
        const v = (adapter.limits as unknown as Record<string, number | undefined>)[name];
        if (typeof v === 'number') requiredLimits[name] = v;
      }
      const requiredFeatures = (options.wantFeatures ?? DEFAULT_FEATURES).filter((f) => adapter.features.has(f));
      try {
        const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'mobilessd' });
        const info = adapter.info;
        const subgroups = subgroupSizes(device, info);
        const report: AdapterReport = {
          driver,
          vendor: info.vendor,
          architecture: info.architecture,
          device: info.device,
          description: info.description,
          features: [...device.features].sort(),
          limits: Object.fromEntries(
            LIMIT_NAMES.map((n) => [n, (device.limits as unknown as Record<string, number>)[n]!]),
          ),
          ...(subgroups ? { subgroups } : {}),
        };
        return new GpuContext(device, report);
      } catch (e) {
        failures.push(`${driver} (${adapter.info.description}): ${(e as Error).message}`);
      }
    }
    const detail = failures.length ? ` (tried: ${failures.join('; ')})` : '';
    throw new NoAdapterError(`no WebGPU adapter available${detail}`, provider.noAdapterHint(choice));
  }

  /** What is allocated on this device now: buffers and textures created and not yet destroyed. */
  get liveResources(): LiveResources {
    return { ...this.live };
  }

  /**
   * Counts every buffer and texture made on `device` until its destroy(), wherever in the code it
   * is created: a per-call resource that is never destroyed shows up as a count that grows.
   */
  private trackResources(device: GPUDevice): void {
    const live = this.live;
    const counted = <T extends { destroy(): undefined }>(
      resource: T,
      kind: 'buffers' | 'textures',
      bytes: number,
    ): T => {
      live[kind]++;
      live.bytes += bytes;
      const destroy = resource.destroy.bind(resource);
      let gone = false;
      resource.destroy = () => {
        if (!gone) {
          gone = true;
          live[kind]--;
          live.bytes -= bytes;
        }
        return destroy();
      };
      return resource;
    };
    const createBuffer = device.createBuffer.bind(device);
    const createTexture = device.createTexture.bind(device);
    device.createBuffer = (desc) => counted(createBuffer(desc), 'buffers', desc.size);
    device.createTexture = (desc) => {
      const t = createTexture(desc);
      return counted(t, 'textures', t.width * t.height * t.depthOrArrayLayers * (TEXEL_BYTES[t.format] ?? 4));
    };
  }

  get lost(): boolean {
    return this.lostInfo !== undefined;
  }

  /** Adapter in one line, e.g. "lavapipe: llvmpipe (LLVM 15.0.6, 256 bits)". */
  describe(): string {
    const r = this.report;
    return `${r.driver}: ${r.description || r.device || r.vendor}`;
  }

  onLost(listener: (err: DeviceLostError) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  throwIfLost(): void {
    if (this.lostInfo) throw new DeviceLostError(`GPU device lost (${this.lostInfo.reason}): ${this.lostInfo.message}`);
  }

  /** Throws the first GPU error that happened outside an error scope since the last call. */
  throwUncaptured(label: string): void {
    if (!this.uncaptured.length) return;
    const messages = this.uncaptured.splice(0);
    throw new GpuValidationError(`${label}: ${messages.join('\n')}`);
  }

  /** A shader module whose compilation errors are thrown at once, with the offending source line. */
  shaderModule(label: string, code: string): Promise<GPUShaderModule> {
    let p = this.modules.get(code);
    if (!p) {
      p = (async () => {
        // Scopes are a stack shared by all callers: pop before the first await, or a concurrent
        // compile would report its error under this shader's name.
        this.device.pushErrorScope('validation');
        const module = this.device.createShaderModule({ label, code });
        const scope = this.device.popErrorScope();
        const info = await module.getCompilationInfo();
        const scopeError = await scope;
        const errors = info.messages.filter((m) => m.type === 'error');
        if (errors.length || scopeError) {
          const lines = code.split('\n');
          const text = errors
            .map((m) => `  line ${m.lineNum}:${m.linePos}: ${m.message}\n    ${lines[m.lineNum - 1]?.trim() ?? ''}`)
            .join('\n');
          throw new ShaderCompileError(label, text || scopeError!.message);
        }
        return module;
      })();
      p.catch(() => this.modules.delete(code));
      this.modules.set(code, p);
    }
    return p;
  }

  bindGroupLayout(bindings: readonly BindingKind[]): GPUBindGroupLayout {
    const key = bindings.join(',');
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `layout(${key})`,
        entries: bindings.map((kind, binding): GPUBindGroupLayoutEntry => {
          const visibility = GPUShaderStage.COMPUTE;
          switch (kind) {
            case 'uniform':
              return { binding, visibility, buffer: { type: 'uniform' } };
            case 'storage':
              return { binding, visibility, buffer: { type: 'read-only-storage' } };
            case 'rw':
              return { binding, visibility, buffer: { type: 'storage' } };
            case 'texture':
              return { binding, visibility, texture: { sampleType: 'float', viewDimension: '2d' } };
          }
        }),
      });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  /**
   * A compute pipeline cached by `key`. The key must name only init-time facts (op, variant,
   * specialization constants, workgroup size), never shape values: shapes travel in uniforms.
   */
  pipeline(key: string, build: () => PipelineSpec): Promise<CachedPipeline> {
    let p = this.pipelines.get(key);
    if (!p) {
      p = (async () => {
        const spec = build();
        const module = await this.shaderModule(spec.label, spec.code);
        const layout = this.bindGroupLayout(spec.bindings);
        try {
          const pipeline = await this.device.createComputePipelineAsync({
            label: spec.label,
            layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
            compute: {
              module,
              entryPoint: spec.entryPoint ?? 'main',
              ...(spec.constants ? { constants: spec.constants } : {}),
            },
          });
          return { key, label: spec.label, pipeline, layout };
        } catch (e) {
          throw new ShaderCompileError(spec.label, `pipeline creation failed: ${(e as Error).message}`);
        }
      })();
      p.catch(() => this.pipelines.delete(key));
      this.pipelines.set(key, p);
    }
    return p;
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  createBuffer(label: string, size: number, usage: GPUBufferUsageFlags, contents?: ArrayBufferView): GPUBuffer {
    const padded = Math.max(16, Math.ceil(size / 16) * 16);
    const buffer = this.device.createBuffer({ label, size: padded, usage, mappedAtCreation: contents !== undefined });
    if (contents) {
      new Uint8Array(buffer.getMappedRange()).set(
        new Uint8Array(contents.buffer, contents.byteOffset, contents.byteLength),
      );
      buffer.unmap();
    }
    return buffer;
  }

  /** Copies `size` bytes out of a GPU buffer. For tests and tools; the detector reads back only its final results. */
  async readBuffer(source: GPUBuffer, offset = 0, size = source.size - offset): Promise<ArrayBuffer> {
    const staging = this.device.createBuffer({
      label: 'readback',
      size,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(source, offset, staging, 0, size);
    this.queue.submit([enc.finish()]);
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      staging.destroy();
      this.throwIfLost();
      throw e;
    }
    const out = staging.getMappedRange().slice(0);
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** Runs `fn` inside validation and out-of-memory error scopes and throws what they caught. */
  async checked<T>(label: string, fn: () => T): Promise<T> {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    // The scopes must be popped even when fn throws; what they caught explains fn's failure better than
    // its own exception, so it wins.
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: fn() };
    } catch (error) {
      outcome = { ok: false, error };
    }
    const validationScope = this.device.popErrorScope();
    const oomScope = this.device.popErrorScope();
    const validation = await validationScope;
    const oom = await oomScope;
    if (validation) throw new GpuValidationError(`${label}: ${validation.message}`);
    if (oom) throw new GpuValidationError(`${label}: out of GPU memory: ${oom.message}`);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.device.destroy();
  }
}

/** Splits a 1-D grid over x and y so no dimension exceeds the per-dimension workgroup limit. */
export function grid1d(threads: number, workgroupSize: number, maxPerDim = 65535): [number, number, number] {
  const groups = Math.max(1, Math.ceil(threads / workgroupSize));
  if (groups <= maxPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y, 1];
}
