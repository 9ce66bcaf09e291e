/**
 * The SSD head on the GPU: decode, score, threshold, top-k, greedy or weighted NMS for a batch of images, as a
 * fixed list of dispatches recorded once and replayed every frame (no CPU round trip inside).
 * Semantics are those of ssdHeadRef (head_ref.ts), ties included.
 *
 * Passes (shaders/ssd_*.wgsl; every count they loop over lives on the GPU):
 *   clear        zero the per-image counters and histograms
 *   score        per anchor: scores, candidates >= threshold appended (atomic), level-0 histogram; with
 *                subgroups (score_subgroup), a subgroup per anchor, its lanes over the classes
 *   select_*     radix select on the sort key: a pool of <= poolCap candidates holding the top kCap
 *   gather       copy the pool out of the candidate list
 *   chunk_sort   sort the pool in chunks (rank inside the chunk; chunk size set by the pool size)
 *   merge_rank   global rank by binary search in the other chunks; the first kCap are decoded
 *   nms          one workgroup per image: greedy NMS in blocks of 64, writes the kept detections
 *   nms_weighted one workgroup per image, weighted NMS only: each kept box and its keypoints become the
 *                score-weighted mean of its cluster (a no-op under greedy NMS)
 *
 * Output buffer, per image n at word n * (4 + 8 * maxDetectionsCap), little-endian 32-bit words:
 *   [0] u32 detections kept  [1] u32 candidates >= threshold  [2] u32 candidates that entered NMS
 *   [3] 0, then `kept` records of 8 + 2K words: ymin, xmin, ymax, xmax, score (f32), classId, anchor (u32), 0,
 *   and (x, y) of each of the model's K keypoints (f32).
 * Boxes are in model-input coordinates, normalized, unclipped; records are in score order.
 */
import { withStorage, type StorageType } from '../kernels/storage.ts';
import commonSource from '../../shaders/ssd_common.wgsl';
import scoreSource from '../../shaders/ssd_score.wgsl';
import scoreSubgroupSource from '../../shaders/ssd_score_subgroup.wgsl';
import selectSource from '../../shaders/ssd_select.wgsl';
import sortSource from '../../shaders/ssd_sort.wgsl';
import nmsSource from '../../shaders/ssd_nms.wgsl';
import { InvalidOptionError } from '../errors.ts';
import type { BindingKind, CachedPipeline, GpuContext } from '../gpu/context.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { makeDispatch, type Dispatch } from '../gpu/dispatch.ts';
import {
  keypointCount,
  reportableClasses,
  validateHeadOptions,
  type HeadDetection,
  type HeadOptions,
  type HeadSpec,
} from './head_types.ts';

export type { HeadDetection, HeadOptions } from './head_types.ts';

/** Layout constants shared with the shaders (emitted as WGSL consts, so the two cannot drift). */
const LAYOUT = { STATE_WORDS: 16, DIGIT_BITS: 12, BINS: 4096, OUT_HEADER_WORDS: 4 } as const;
/** Words of one detection record: 8, then (x, y) per keypoint. */
const recordWords = (keypoints: number) => 8 + 2 * keypoints;
/** Score bits that can be set: a float in [0, 1] has bits 31 and 30 clear. */
const SCORE_KEY_BITS = 30;
const WG_SIZE = 64;
/** Workgroups per image for the passes that stride over a GPU-side count: enough to fill a GPU
 *  for these list sizes, few enough that idle ones cost nothing on a software driver. */
const MAX_GRID_X = 64;
const HeadParams = uniformSchema('HeadParams', {
  numAnchors: 'u32',
  numClasses: 'u32',
  /** 0: sigmoid of logits, 1: softmax of logits, 2: the inputs are the scores. */
  scoreMode: 'u32',
  idBits: 'u32',
  keyBits: 'u32',
  levels: 'u32',
  maxId: 'u32',
  level: 'u32',
  candCap: 'u32',
  poolCap: 'u32',
  kCap: 'u32',
  detCap: 'u32',
  cntStride: 'u32',
  workStride: 'u32',
  poolOff: 'u32',
  chunkedOff: 'u32',
  sortedOff: 'u32',
  outStride: 'u32',
  /** Values per raw box row, where the box's four start, where the keypoints start and their stride. */
  boxStride: 'u32',
  boxOffset: 'u32',
  kpOffset: 'u32',
  kpStride: 'u32',
  /** 1: rows hold (x, y, w, h) and keypoints (x, y); 0: (y, x, h, w) and (y, x). */
  xywh: 'u32',
  /** 1: sizes exp(t / scale) * anchor; 0: t / scale * anchor. */
  expSize: 'u32',
  /** Logits clamped to [-scoreClip, scoreClip] before the sigmoid; 0: not clamped. */
  scoreClip: 'f32',
  scales: 'vec4f',
});
const OptionsUniform = uniformSchema('HeadOptions', {
  scoreThreshold: 'f32',
  iouThreshold: 'f32',
  maxDetections: 'u32',
  perClassNms: 'u32',
  weighted: 'u32',
});

const BINDINGS: readonly BindingKind[] = [
  'uniform',
  'uniform',
  'storage',
  'storage',
  'storage',
  'storage',
  'rw',
  'rw',
  'rw',
];
const SOURCES = { score: scoreSource, select: selectSource, sort: sortSource, nms: nmsSource };
const ENTRIES = {
  clear: 'score',
  score: 'score',
  select_scan: 'select',
  select_hist: 'select',
  gather: 'select',
  chunk_sort: 'sort',
  merge_rank: 'sort',
  nms: 'nms',
  nms_weighted: 'nms',
} as const satisfies Record<string, keyof typeof SOURCES>;
type Entry = keyof typeof ENTRIES;

export interface SsdHeadConfig {
  batch: number;
  numAnchors: number;
  numClasses: number;
  /** [numAnchors, 4] as (yCenter, xCenter, height, width). */
  anchors: Float32Array;
  spec: HeadSpec & { defaults?: Omit<HeadOptions, 'allowedClasses'> };
  /** Largest maxDetections any call may ask for; sizes the output. */
  maxDetectionsCap: number;
  /** Most candidates per image that enter NMS (top-k by score). */
  candidateCap: number;
  /** Classes labelled "???" are never reported. */
  labels?: readonly string[];
  /**
   * The score pass with subgroup operations: true forces it (InvalidOptionError where the device cannot run
   * it); false or left out, the plain pass (see headUsesSubgroups). Detections are the same either way.
   */
  subgroups?: boolean;
  /** The network's storage type, which the raw box encodings and logits are read in (decoding is f32). Default f32. */
  storage?: StorageType;
}

/**
 * Whether the head's score pass uses subgroups: only when asked (`want`), and only where the device has them and
 * no subgroup is wider than a workgroup (the pass needs every lane of a subgroup active). Not by default: on
 * lavapipe and SwiftShader it took 0.8-1.9x the plain pass's frame time (results/ssd_head_subgroups_*.md; their
 * subgroups are a CPU's SIMD lanes, where walking the lanes' anchors in turn costs more than strided reads), and
 * no hardware adapter has been measured; a measured win there would make it that adapter's default.
 */
export function headUsesSubgroups(ctx: GpuContext, want = false): boolean {
  if (want && !(ctx.subgroups && ctx.subgroups.max <= WG_SIZE))
    throw new InvalidOptionError(
      'subgroups',
      true,
      `false on this device (the SSD head's subgroup pass needs the subgroups feature, subgroups of at most ${WG_SIZE} lanes)`,
    );
  return want;
}

interface Layout {
  levels: number;
  sortChunk: number;
  idBits: number;
  candCap: number;
  poolCap: number;
  cntStride: number;
  workStride: number;
  poolOff: number;
  chunkedOff: number;
  sortedOff: number;
  outStride: number;
  recordWords: number;
}

/**
 * Pool slack beyond kCap: the sort costs about pool^2 / chunk, so a tight pool pays off even when
 * it takes one more radix level (a pass over the boundary bin only) to settle.
 */
function poolCapacity(candidateCap: number): number {
  return candidateCap + 64;
}

/** Chunk size minimizing P * chunk + P * (P / chunk) * log2(chunk), the sort's comparisons. */
function sortChunk(poolCap: number): number {
  const best = Math.sqrt((poolCap * Math.log2(poolCap)) / 2);
  return Math.min(1024, Math.max(32, 2 ** Math.round(Math.log2(best))));
}

function layoutOf(cfg: SsdHeadConfig): Layout {
  const record = recordWords(keypointCount(cfg.spec));
  const ids = cfg.numAnchors * cfg.numClasses;
  const idBits = Math.max(1, Math.ceil(Math.log2(ids)));
  const levels = Math.ceil((SCORE_KEY_BITS + idBits) / LAYOUT.DIGIT_BITS);
  // Per-class mode can make every (anchor, class) a candidate.
  const candCap = ids;
  const poolCap = poolCapacity(cfg.candidateCap);
  const poolOff = candCap * 2;
  const chunkedOff = poolOff + poolCap * 2;
  const sortedOff = chunkedOff + poolCap * 2;
  return {
    levels,
    sortChunk: sortChunk(poolCap),
    idBits,
    candCap,
    poolCap,
    cntStride: LAYOUT.STATE_WORDS + levels * LAYOUT.BINS,
    workStride: sortedOff + cfg.candidateCap * record,
    poolOff,
    chunkedOff,
    sortedOff,
    outStride: LAYOUT.OUT_HEADER_WORDS + cfg.maxDetectionsCap * record,
    recordWords: record,
  };
}

function validateConfig(ctx: GpuContext, cfg: SsdHeadConfig, l: Layout): void {
  const count = (name: string, v: number, max = 2 ** 31 - 1) => {
    if (!(Number.isInteger(v) && v >= 1 && v <= max))
      throw new InvalidOptionError(name, v, `an integer from 1 to ${max}`);
  };
  const lim = ctx.report.limits;
  count('batch', cfg.batch, lim.maxComputeWorkgroupsPerDimension ?? 65535);
  count('numAnchors', cfg.numAnchors, WG_SIZE * (lim.maxComputeWorkgroupsPerDimension ?? 65535));
  count('numClasses', cfg.numClasses);
  count('numAnchors x numClasses', cfg.numAnchors * cfg.numClasses);
  count('maxDetectionsCap', cfg.maxDetectionsCap);
  count('candidateCap', cfg.candidateCap);
  const d = cfg.spec.decoding;
  const kp = d?.keypoints;
  const rowEnd = Math.max(d ? d.boxOffset + 4 : 4, kp ? kp.offset + kp.names.length * kp.valuesPerKeypoint : 0);
  if (d && !(Number.isInteger(d.numCoords) && rowEnd <= d.numCoords && (!kp || kp.valuesPerKeypoint >= 2)))
    throw new InvalidOptionError('decoding', JSON.stringify(d), 'box and keypoint values inside rows of numCoords');
  if (cfg.anchors.length !== cfg.numAnchors * 4)
    throw new InvalidOptionError('anchors', `${cfg.anchors.length} floats`, `numAnchors x 4 = ${cfg.numAnchors * 4}`);
  const maxBinding = Math.min(lim.maxStorageBufferBindingSize ?? 2 ** 27, lim.maxBufferSize ?? 2 ** 28);
  const check = (what: string, bytes: number, lower: string) => {
    if (bytes > maxBinding)
      throw new InvalidOptionError(
        what,
        `${bytes} bytes`,
        `at most ${maxBinding} bytes on this adapter (lower ${lower})`,
      );
  };
  check('SSD head scratch storage', cfg.batch * l.workStride * 4, 'the batch or candidateCap');
  check('SSD head output', cfg.batch * l.outStride * 4, 'the batch or maxDetectionsCap');
}

function wgslConstants(keypoints: number): string {
  // KP_VALUES sizes a private array: WGSL has no zero-length arrays.
  const all = {
    ...LAYOUT,
    RECORD_WORDS: recordWords(keypoints),
    NUM_KEYPOINTS: keypoints,
    KP_VALUES: Math.max(1, 2 * keypoints),
  };
  return Object.entries(all)
    .map(([k, v]) => `const ${k} = ${v}u;\n`)
    .join('');
}

function headPipeline(
  ctx: GpuContext,
  entry: Entry,
  sortChunk: number,
  keypoints: number,
  subgroups: boolean,
  storage: StorageType,
): Promise<CachedPipeline> {
  const file = ENTRIES[entry];
  const constants: Record<string, number> = file === 'sort' ? { WG_SIZE, SORT_CHUNK: sortChunk } : { WG_SIZE };
  const sg = subgroups && entry === 'score';
  const key = `ssd_head/${entry}${sg ? '/subgroups' : ''}/${storage}/wg${WG_SIZE}/kp${keypoints}${file === 'sort' ? `/chunk${sortChunk}` : ''}`;
  const body = wgslConstants(keypoints) + HeadParams.wgsl + OptionsUniform.wgsl + commonSource + SOURCES[file];
  return ctx.pipeline(key, () => ({
    label: `ssd_${entry}${sg ? '_subgroup' : ''}`,
    code: withStorage(storage, sg ? `enable subgroups;\n${body}${scoreSubgroupSource}` : body),
    entryPoint: sg ? 'score_subgroup' : entry,
    constants,
    bindings: BINDINGS,
  }));
}

export class SsdHead {
  readonly output: GPUBuffer;
  /** Bytes of `output` that parseDetections reads. */
  readonly outputBytes: number;
  /** The score pass uses subgroup operations (init-time choice, see headUsesSubgroups). */
  readonly usesSubgroups: boolean;
  private readonly options: GPUBuffer;
  private readonly allowed: GPUBuffer;
  private readonly anchors: GPUBuffer;
  private readonly counters: GPUBuffer;
  private readonly work: GPUBuffer;
  private readonly recorded: Dispatch[] = [];

  private constructor(
    private readonly ctx: GpuContext,
    private readonly cfg: SsdHeadConfig,
    private readonly layout: Layout,
    private readonly pipes: Record<Entry, CachedPipeline>,
    subgroups: boolean,
  ) {
    this.usesSubgroups = subgroups;
    const rw = GPUBufferUsage.STORAGE;
    const n = cfg.batch;
    this.outputBytes = n * layout.outStride * 4;
    this.output = ctx.createBuffer('ssd head output', this.outputBytes, rw | GPUBufferUsage.COPY_SRC);
    this.options = ctx.createBuffer(
      'ssd head options',
      OptionsUniform.size,
      GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    );
    this.allowed = ctx.createBuffer(
      'ssd head classes',
      Math.ceil(cfg.numClasses / 32) * 4,
      rw | GPUBufferUsage.COPY_DST,
    );
    this.anchors = ctx.createBuffer('ssd anchors', cfg.anchors.byteLength, rw, cfg.anchors);
    this.counters = ctx.createBuffer('ssd head counters', n * layout.cntStride * 4, rw);
    this.work = ctx.createBuffer('ssd head work', n * layout.workStride * 4, rw);
    const d = cfg.spec.defaults;
    this.setOptions({
      scoreThreshold: d?.scoreThreshold ?? 0.5,
      iouThreshold: d?.iouThreshold ?? 0.5,
      maxDetections: Math.min(d?.maxDetections ?? cfg.maxDetectionsCap, cfg.maxDetectionsCap),
      perClassNms: d?.perClassNms ?? false,
      nms: d?.nms ?? 'greedy',
    });
  }

  static async create(ctx: GpuContext, cfg: SsdHeadConfig): Promise<SsdHead> {
    const layout = layoutOf(cfg);
    validateConfig(ctx, cfg, layout);
    const entries = Object.keys(ENTRIES) as Entry[];
    const keypoints = keypointCount(cfg.spec);
    const sg = headUsesSubgroups(ctx, cfg.subgroups);
    const compiled = await Promise.all(
      entries.map((e) => headPipeline(ctx, e, layout.sortChunk, keypoints, sg, cfg.storage ?? 'f32')),
    );
    const pipes = Object.fromEntries(entries.map((e, i) => [e, compiled[i]!])) as Record<Entry, CachedPipeline>;
    return new SsdHead(ctx, cfg, layout, pipes, sg);
  }

  /** Uploads per-call options; the recorded dispatches read them at execution. */
  setOptions(o: HeadOptions): void {
    const { numClasses, maxDetectionsCap, spec, labels } = this.cfg;
    validateHeadOptions(o, numClasses, maxDetectionsCap);
    const packed = OptionsUniform.pack({
      scoreThreshold: o.scoreThreshold,
      iouThreshold: o.iouThreshold,
      maxDetections: o.maxDetections,
      perClassNms: o.perClassNms ? 1 : 0,
      weighted: o.nms === 'weighted' ? 1 : 0,
    });
    this.ctx.queue.writeBuffer(this.options, 0, packed);
    const bits = new Uint32Array(Math.ceil(numClasses / 32));
    reportableClasses(numClasses, spec, o.allowedClasses, labels).forEach((ok, c) => {
      if (ok) bits[c >> 5]! |= 1 << (c & 31);
    });
    this.ctx.queue.writeBuffer(this.allowed, 0, bits);
  }

  /**
   * The head's dispatches reading `boxes` [N, A, 4] and `logits` [N, A, C] (float32; may share a
   * buffer). Record once, replay every frame; they stay valid until destroy().
   */
  dispatches(boxes: GPUBufferBinding, logits: GPUBufferBinding): Dispatch[] {
    const { cfg, layout: l } = this;
    const n = cfg.batch;
    const resources: GPUBufferBinding[] = [
      { buffer: this.options },
      { buffer: this.allowed },
      { buffer: this.anchors },
      boxes,
      logits,
      { buffer: this.counters },
      { buffer: this.work },
      { buffer: this.output },
    ];
    const s = cfg.spec.scales;
    const dec = cfg.spec.decoding;
    const base = {
      numAnchors: cfg.numAnchors,
      numClasses: cfg.numClasses,
      scoreMode: { sigmoid: 0, softmax: 1, probability: 2 }[cfg.spec.scoreFunction],
      idBits: l.idBits,
      keyBits: SCORE_KEY_BITS + l.idBits,
      levels: l.levels,
      maxId: cfg.numAnchors * cfg.numClasses - 1,
      candCap: l.candCap,
      poolCap: l.poolCap,
      kCap: cfg.candidateCap,
      detCap: cfg.maxDetectionsCap,
      cntStride: l.cntStride,
      workStride: l.workStride,
      poolOff: l.poolOff,
      chunkedOff: l.chunkedOff,
      sortedOff: l.sortedOff,
      outStride: l.outStride,
      boxStride: dec?.numCoords ?? 4,
      boxOffset: dec?.boxOffset ?? 0,
      kpOffset: dec?.keypoints?.offset ?? 0,
      kpStride: dec?.keypoints?.valuesPerKeypoint ?? 2,
      xywh: dec?.order === 'xywh' ? 1 : 0,
      expSize: dec && !dec.exponentialSize ? 0 : 1,
      scoreClip: dec?.scoreClipping ?? 0,
      scales: [s.y, s.x, s.h, s.w],
    };
    const strided = (items: number): [number, number, number] => [
      Math.min(MAX_GRID_X, Math.max(1, Math.ceil(items / WG_SIZE))),
      n,
      1,
    ];
    const make = (
      entry: Entry,
      workgroups: [number, number, number],
      cost: { flops: number; bytes: number },
      level = 0,
    ): Dispatch =>
      makeDispatch(
        this.ctx,
        this.pipes[entry],
        HeadParams,
        { ...base, level },
        resources,
        { workgroups },
        { label: `ssd_${entry}${level ? level : ''}`, op: 'ssd_head', ...cost },
      );

    const k = cfg.candidateCap;
    const logitCount = n * cfg.numAnchors * cfg.numClasses;
    const list = [
      make('clear', strided(l.cntStride), { flops: 0, bytes: n * l.cntStride * 4 }),
      make('score', [Math.ceil(cfg.numAnchors / WG_SIZE), n, 1], {
        flops: 8 * logitCount,
        bytes: 4 * logitCount + 16 * n * cfg.numAnchors,
      }),
      make('select_scan', [1, n, 1], { flops: n * LAYOUT.BINS, bytes: n * LAYOUT.BINS * 4 }),
    ];
    for (let level = 1; level < l.levels; level++) {
      list.push(make('select_hist', strided(l.candCap), { flops: 0, bytes: 0 }, level));
      list.push(make('select_scan', [1, n, 1], { flops: n * LAYOUT.BINS, bytes: n * LAYOUT.BINS * 4 }, level));
    }
    // Costs below are upper bounds at the caps (comparisons and IoU tests counted as flops); the
    // real work depends on the candidate counts.
    const p = n * l.poolCap;
    list.push(
      make('gather', strided(l.candCap), { flops: 0, bytes: p * 8 }),
      make('chunk_sort', strided(l.poolCap), { flops: p * l.sortChunk, bytes: p * 16 }),
      make('merge_rank', strided(l.poolCap), {
        flops: p * Math.ceil(l.poolCap / l.sortChunk) * Math.log2(l.sortChunk),
        bytes: p * 8 + n * k * 32,
      }),
      make('nms', [1, n, 1], { flops: 16 * n * k * (cfg.maxDetectionsCap + 64), bytes: n * k * 32 + this.outputBytes }),
      make('nms_weighted', [1, n, 1], {
        flops: 16 * n * k * 2 * cfg.maxDetectionsCap,
        bytes: n * k * 4 * (l.recordWords + cfg.maxDetectionsCap),
      }),
    );
    this.recorded.push(...list);
    return list;
  }

  destroy(): void {
    for (const d of this.recorded) for (const b of d.owned) b.destroy();
    this.recorded.length = 0;
    for (const b of [this.output, this.options, this.allowed, this.anchors, this.counters, this.work]) b.destroy();
  }
}

/** Words of one image's block in the output buffer. */
function outStride(cap: number, keypoints: number): number {
  return LAYOUT.OUT_HEADER_WORDS + cap * recordWords(keypoints);
}

/**
 * Reads the output buffer (layout above) of a head built with maxDetectionsCap = cap for a model with
 * `keypoints` keypoints (keypointCount of its spec); detections carry `keypoints` when it is not 0.
 */
export function parseDetections(buffer: ArrayBuffer, batch: number, cap: number, keypoints = 0): HeadDetection[][] {
  const u = new Uint32Array(buffer);
  const f = new Float32Array(buffer);
  return Array.from({ length: batch }, (_, n) => {
    const base = n * outStride(cap, keypoints);
    const kept = Math.min(u[base]!, cap);
    return Array.from({ length: kept }, (_, i) => {
      const r = base + LAYOUT.OUT_HEADER_WORDS + i * recordWords(keypoints);
      return {
        ymin: f[r]!,
        xmin: f[r + 1]!,
        ymax: f[r + 2]!,
        xmax: f[r + 3]!,
        score: f[r + 4]!,
        classId: u[r + 5]!,
        anchor: u[r + 6]!,
        ...(keypoints ? { keypoints: Array.from(f.subarray(r + 8, r + 8 + 2 * keypoints)) } : {}),
      };
    });
  });
}

/** Per image: candidates that passed the threshold, and how many of them entered NMS (<= candidateCap). */
export function parseCandidateCounts(
  buffer: ArrayBuffer,
  batch: number,
  cap: number,
  keypoints = 0,
): { candidates: number; considered: number }[] {
  const u = new Uint32Array(buffer);
  return Array.from({ length: batch }, (_, n) => ({
    candidates: u[n * outStride(cap, keypoints) + 1]!,
    considered: u[n * outStride(cap, keypoints) + 2]!,
  }));
}
