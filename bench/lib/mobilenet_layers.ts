/**
 * The depthwise-separable layers of MobileNetV1 and V2 as (M, N, D_K, D_F) for the FLOP-cost
 * comparison, with the width multiplier alpha and any input resolution (the report's rho).
 * D_F is the output feature-map size; stride-2 layers read a 2x larger input.
 */
export interface SeparableLayer {
  net: 'MobileNetV1' | 'MobileNetV2';
  name: string;
  /** Input channels (depthwise channels), output channels, kernel size, output size, stride. */
  M: number;
  N: number;
  DK: number;
  DF: number;
  stride: number;
}

const same = (n: number, s: number) => Math.ceil(n / s);

/** V2's channel rounding: nearest multiple of 8, never below 90% of the scaled width. */
function divisible(c: number): number {
  const v = Math.max(8, Math.floor(c + 4) - (Math.floor(c + 4) % 8));
  return v < 0.9 * c ? v + 8 : v;
}

export function mobilenetV1Layers(resolution: number, alpha = 1): SeparableLayer[] {
  const spec: [number, number][] = [
    [64, 1],
    [128, 2],
    [128, 1],
    [256, 2],
    [256, 1],
    [512, 2],
    [512, 1],
    [512, 1],
    [512, 1],
    [512, 1],
    [512, 1],
    [1024, 2],
    [1024, 1],
  ];
  let size = same(resolution, 2);
  let cin = Math.floor(32 * alpha);
  return spec.map(([c, s], i) => {
    const N = Math.floor(c * alpha);
    size = same(size, s);
    const layer: SeparableLayer = { net: 'MobileNetV1', name: `v1/dw${i + 1}`, M: cin, N, DK: 3, DF: size, stride: s };
    cin = N;
    return layer;
  });
}

export function mobilenetV2Layers(resolution: number, alpha = 1): SeparableLayer[] {
  const spec: [number, number, number, number][] = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
  ];
  let size = same(resolution, 2);
  let cin = divisible(32 * alpha);
  const out: SeparableLayer[] = [];
  let b = 0;
  for (const [t, c, n, s] of spec) {
    const cout = divisible(c * alpha);
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      size = same(size, stride);
      // The separable pair of an inverted residual block: depthwise on the expanded width, then the linear projection.
      out.push({ net: 'MobileNetV2', name: `v2/block${++b}`, M: cin * t, N: cout, DK: 3, DF: size, stride });
      cin = cout;
    }
  }
  return out;
}

export function theoreticalRatio(l: SeparableLayer): number {
  return 1 / l.N + 1 / (l.DK * l.DK);
}
