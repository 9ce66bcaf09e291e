/** Debian's Chromium with a WebGPU adapter on SwiftShader, for the tests that drive a page (playwright-core). */
export const CHROMIUM = '/usr/bin/chromium';

// runtime.md's flags for a SwiftShader WebGPU adapter, plus ANGLE on Vulkan: with Chromium's default
// GL, decoded video frames stay in CPU memory and WebGPU cannot copy them (checked on Chromium 156).
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless=new',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-webgpu-adapter=swiftshader',
  '--use-vulkan=swiftshader',
  '--use-angle=vulkan',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];
