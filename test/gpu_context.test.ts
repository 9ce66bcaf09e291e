import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { GpuContext } from '../src/gpu/context.ts';
import { classifyAdapter, getGpuProvider, setGpuProvider } from '../src/gpu/provider.ts';
import { NoAdapterError, ShaderCompileError } from '../src/errors.ts';
import { gpu, releaseGpu } from './support/gpu.ts';

after(releaseGpu);

const valid = '@compute @workgroup_size(1) fn main() {}';
const broken = '@compute @workgroup_size(1) fn main() {\n  let x: u32 = 1.5;\n}';

test('a WGSL error surfaces at once with its line and the source text', async () => {
  const ctx = await gpu();
  await assert.rejects(
    ctx.shaderModule('broken', broken),
    (e: unknown) =>
      e instanceof ShaderCompileError &&
      /broken/.test(e.message) &&
      /line 2/.test(e.message) &&
      /let x: u32 = 1\.5/.test(e.message),
  );
});

test('concurrent compiles report each error under the right shader', async () => {
  const ctx = await gpu();
  const results = await Promise.allSettled([
    ctx.shaderModule('good-1', `${valid}\n// 1`),
    ctx.shaderModule('bad-one', broken.replace('x', 'y')),
    ctx.shaderModule('good-2', `${valid}\n// 2`),
  ]);
  assert.equal(results[0].status, 'fulfilled');
  assert.equal(results[2].status, 'fulfilled');
  assert.ok(results[1].status === 'rejected' && /bad-one/.test((results[1].reason as Error).message));
});

test('pipelines are cached by key: the same key builds once', async () => {
  const ctx = await gpu();
  let builds = 0;
  const spec = () => {
    builds++;
    return { label: 'cache-probe', code: valid, bindings: [] };
  };
  const [a, b] = await Promise.all([ctx.pipeline('probe/v1', spec), ctx.pipeline('probe/v1', spec)]);
  assert.equal(a, b);
  assert.equal(builds, 1);
});

test('the adapter report names the driver and carries the adapter limits', async () => {
  const ctx = await gpu();
  assert.ok(['hardware', 'lavapipe', 'swiftshader'].includes(ctx.report.driver));
  assert.ok(
    ctx.report.limits.maxStorageBufferBindingSize! >= 128 * 1024 * 1024,
    'requiredLimits come from the adapter, not the defaults',
  );
  assert.match(ctx.describe(), /^(hardware|lavapipe|swiftshader): /);
});

test('no adapter at all: a typed error that says how to get one', async () => {
  const saved = getGpuProvider();
  setGpuProvider({ async *adapters() {}, noAdapterHint: () => 'install a software Vulkan driver' });
  try {
    await assert.rejects(
      GpuContext.acquire(),
      (e: unknown) =>
        e instanceof NoAdapterError && e.code === 'NO_ADAPTER' && /install a software Vulkan driver/.test(e.message),
    );
  } finally {
    setGpuProvider(saved);
  }
});

test('adapters are classified from what they report, as Dawn and Chromium describe them', () => {
  const adapter = (info: Partial<GPUAdapterInfo>) =>
    ({ info: { vendor: '', architecture: '', device: '', description: '', ...info } }) as unknown as GPUAdapter;
  assert.equal(
    classifyAdapter(adapter({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })),
    'lavapipe',
  );
  assert.equal(classifyAdapter(adapter({ vendor: 'google', architecture: 'swiftshader' })), 'swiftshader');
  assert.equal(classifyAdapter(adapter({ description: 'SwiftShader Device (Subzero)' })), 'swiftshader');
  assert.equal(
    classifyAdapter(adapter({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100' })),
    'hardware',
  );
});
