/**
 * The demo page: open or drop an image or a video, or use the camera; detections drawn over the
 * picture; model, thresholds and class filter; FPS and per-stage latency. `window.mobilessdDemo`
 * exposes the state (status, every frame's result, the message shown) to tests and the console.
 */
import {
  describeAdapter,
  load,
  type DeviceLostError,
  type Detection,
  type DetectOptions,
  type LoadStage,
  type ModelSource,
  type ObjectDetector,
  type StageTimes,
} from '../src/browser.ts';
import { classColor } from '../src/image/draw.ts';
import { messageFor, notMediaMessage, type Message } from './messages.ts';
import { Overlay } from './overlay.ts';
import { Playback } from './playback.ts';
import { VideoLoop } from './video_loop.ts';

const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  status: el('status'),
  adapter: el('adapter'),
  message: el('message'),
  messageTitle: el('message-title'),
  messageDetail: el('message-detail'),
  model: el<HTMLSelectElement>('model'),
  modelFolder: el<HTMLInputElement>('model-folder'),
  file: el<HTMLInputElement>('file'),
  sample: el<HTMLSelectElement>('sample'),
  camera: el<HTMLButtonElement>('camera'),
  everyFrame: el<HTMLInputElement>('every-frame'),
  score: el<HTMLInputElement>('score'),
  scoreValue: el<HTMLOutputElement>('score-value'),
  iou: el<HTMLInputElement>('iou'),
  iouValue: el<HTMLOutputElement>('iou-value'),
  classList: el('class-list'),
  stage: el('stage'),
  picture: el<HTMLCanvasElement>('picture'),
  overlay: el<HTMLCanvasElement>('overlay'),
  fps: el('fps'),
  times: {
    upload: el('t-upload'),
    gpu: el('t-gpu'),
    readback: el('t-readback'),
    result: el('t-result'),
    total: el('t-total'),
  },
  detections: el('detections'),
};

type Status = 'starting' | 'loading' | 'ready' | 'error';

interface FrameResult {
  source: Source['kind'];
  name: string;
  /** The video frame's presentation time, seconds; null for still images. */
  mediaTime: number | null;
  detections: Detection[];
  times: StageTimes | undefined;
  /** The class filter let nothing through, so nothing ran. */
  allFiltered: boolean;
}

interface VideoSource {
  kind: 'video' | 'camera';
  name: string;
  loop: VideoLoop;
  /** Frames that failed in a row: a frame not decoded yet is retried with the next one, not shown. */
  failures: number;
  release(): void;
}
type Source = { kind: 'image'; name: string; bitmap: ImageBitmap } | VideoSource;

const demo = {
  status: 'starting' as Status,
  model: '',
  detector: undefined as ObjectDetector | undefined,
  /** Every detection the page ran, oldest first (the last 1000). */
  results: [] as FrameResult[],
  message: null as Message | null,
};
(window as unknown as { mobilessdDemo: typeof demo }).mobilessdDemo = demo;

// The models were trained on the files' own pixel values: no colour management, like the Node decoder.
const BITMAP_OPTIONS: ImageBitmapOptions = { colorSpaceConversion: 'none', imageOrientation: 'from-image' };
const MAX_AUTO_RETRIES = 3;
/** Video frames that may fail in a row before the page shows the error. */
const MAX_FRAME_FAILURES = 3;
/** Messages about detection on the current input: a frame that works again clears them. */
const DETECTION_MESSAGES = ['failed', 'bad-input', 'device-lost'];
/** Those, and messages about a failed attempt to open an input: they go when the input changes. */
const INPUT_MESSAGES = [...DETECTION_MESSAGES, 'not-media', 'sample', 'camera'];

const overlay = new Overlay(ui.overlay);
const playback = new Playback(el('playback'), el('play'), el('seek'), el('time'));
let source: Source | undefined;
/** Thresholds the user chose (they apply to every model); until then each model's own defaults. */
const chosen: { score?: string; iou?: string } = {};
/** Per model, the labels the user unticked: restored when the model comes back. */
const untickedByModel = new Map<string, Set<string>>();
let modelRequest = 0;
/** Models that are not bundled names, by their option's value: picked or dropped folders, URLs from ?model=. */
const customModels = new Map<string, ModelSource>();
let deviceLosses = 0;
const frameTimes: number[] = [];

function setStatus(status: Status, text: string): void {
  demo.status = status;
  ui.status.textContent = text;
  document.body.dataset.status = status;
}

function showMessage(m: Message): void {
  demo.message = m;
  ui.message.className = m.kind;
  ui.message.dataset.code = m.code;
  ui.messageTitle.textContent = m.title;
  ui.messageDetail.textContent = m.detail;
  ui.message.hidden = false;
}

/** Hides the message, or only a message with one of `codes`. */
function clearMessage(...codes: string[]): void {
  if (codes.length && !codes.includes(demo.message?.code ?? '')) return;
  demo.message = null;
  ui.message.hidden = true;
}

const ms = (v: number | undefined) => (v === undefined ? 'n/a' : `${v < 10 ? v.toFixed(2) : v.toFixed(0)} ms`);

/** Adds `source` to the model list under `label`, selects it and loads it. */
function addModel(key: string, label: string, source: ModelSource): Promise<void> {
  customModels.set(key, source);
  if (![...ui.model.options].some((o) => o.value === key)) ui.model.add(new Option(label, key));
  ui.model.value = key;
  return useModel(key);
}

let pickedFolders = 0;
/** A model folder the user picked or dropped: its files, named after the folder. */
function useModelFiles(files: File[], folder: string): Promise<void> {
  return addModel(`folder:${++pickedFolders}`, `${folder} (your folder)`, { files });
}

async function useModel(key: string): Promise<void> {
  const request = ++modelRequest;
  const custom = customModels.get(key);
  const name = custom ? (ui.model.selectedOptions[0]?.text ?? key) : key;
  demo.detector?.dispose();
  demo.detector = undefined;
  // The previous model's boxes and labels say nothing about this one.
  clearShown();
  let stage: LoadStage = 'model';
  const stageText: Record<LoadStage, string> = {
    model:
      typeof custom === 'object' && 'files' in custom ? `Reading the ${name} model…` : `Downloading the ${name} model…`,
    device: 'Opening the GPU device…',
    upload: `Uploading the ${name} weights to the GPU…`,
    compile: `Compiling the shaders for ${name} (seconds on a software GPU)…`,
  };
  setStatus('loading', stageText.model);
  try {
    const detector = await load(custom ?? key, {
      onLoadStage: (s) => {
        stage = s;
        if (request === modelRequest) setStatus('loading', stageText[s]);
      },
      onProgress: (p) => {
        if (request === modelRequest && stage === 'model' && p.totalBytes && p.totalBytes > 1e6) {
          const mb = (v: number) => (v / 1e6).toFixed(1);
          setStatus('loading', `${stageText.model} ${mb(p.loadedBytes)} / ${mb(p.totalBytes)} MB`);
        }
      },
      onDeviceLost,
    });
    if (request !== modelRequest) return detector.dispose();
    demo.detector = detector;
    demo.model = key;
    setControls(detector, key);
    const i = detector.info;
    ui.adapter.textContent = `${describeAdapter(detector.adapter)} · ${name}: download + checks ${ms(i.loadMs)}, weights upload ${ms(i.uploadWeightsMs)}, shader compile ${ms(i.compileMs)}`;
    setStatus('ready', `${i.description}`);
    clearMessage('model', 'failed');
    await rerun();
  } catch (e) {
    if (request !== modelRequest) return;
    setStatus('error', `The ${name} model is not loaded.`);
    const m = messageFor(e, `load the ${name} model`);
    showMessage(m);
    // Nothing on this page can work without WebGPU: grey out the controls rather than let them fail one by one.
    if (m.code === 'no-webgpu')
      for (const c of document.querySelectorAll<HTMLInputElement>('#controls :is(input, select, button)'))
        c.disabled = true;
  }
}

/**
 * Sliders keep what the user chose, else start at the model's own defaults; the class filter lists
 * the model's labels, with those the user unticked for this model before unticked again.
 */
function setControls(detector: ObjectDetector, model: string): void {
  const d = detector.info.defaults;
  ui.score.value = chosen.score ?? String(d.scoreThreshold);
  ui.iou.value = chosen.iou ?? String(d.iouThreshold);
  showThresholds();
  const unticked = untickedByModel.get(model);
  ui.classList.replaceChildren(
    ...detector.classes.map(({ id, label }) => {
      const box = Object.assign(document.createElement('input'), {
        type: 'checkbox',
        checked: !unticked?.has(label),
        value: String(id),
      });
      const swatch = Object.assign(document.createElement('span'), { className: 'swatch' });
      swatch.style.background = `rgb(${classColor(id).join(' ')})`;
      const row = document.createElement('label');
      row.className = 'check';
      row.append(box, swatch, label);
      return row;
    }),
  );
}

function showThresholds(): void {
  ui.scoreValue.value = Number(ui.score.value).toFixed(2);
  ui.iouValue.value = Number(ui.iou.value).toFixed(2);
}

/** Options from the controls; null when the class filter lets nothing through. */
function detectOptions(): DetectOptions | null {
  const boxes = [...ui.classList.querySelectorAll<HTMLInputElement>('input[type=checkbox]')];
  const chosen = boxes.filter((b) => b.checked).map((b) => Number(b.value));
  if (!chosen.length) return null;
  return {
    scoreThreshold: Number(ui.score.value),
    iouThreshold: Number(ui.iou.value),
    ...(chosen.length < boxes.length ? { classes: chosen } : {}),
  };
}

/** Detects one frame of `src` and shows it, unless the source or model changed meanwhile. */
async function detectFrame(
  input: ImageBitmap | HTMLVideoElement,
  src: Source,
  mediaTime: number | null,
  width: number,
  height: number,
): Promise<void> {
  const detector = demo.detector;
  if (!detector) return;
  const options = detectOptions();
  try {
    const detections = options ? await detector.detect(input, options) : [];
    if (src !== source || detector !== demo.detector) return;
    overlay.draw(width, height, detections);
    showResult({
      source: src.kind,
      name: src.name,
      mediaTime,
      detections,
      times: options ? detector.lastTimes : undefined,
      allFiltered: !options,
    });
    deviceLosses = 0;
    if (src.kind !== 'image') src.failures = 0;
    clearMessage(...DETECTION_MESSAGES);
  } catch (e) {
    if (src !== source) return;
    if (src.kind !== 'image' && ++src.failures < MAX_FRAME_FAILURES) {
      console.warn(`frame ${mediaTime}s of ${src.name} failed, trying the next one:`, e);
      return;
    }
    showMessage(messageFor(e, 'detect'));
  }
}

function showResult(r: FrameResult): void {
  demo.results.push(r);
  if (demo.results.length > 1000) demo.results.shift();
  const t = r.times;
  ui.times.upload.textContent = ms(t?.upload);
  ui.times.gpu.textContent = ms(t?.gpu);
  ui.times.readback.textContent = ms(t && t.gpu !== undefined ? t.submitToResult - t.gpu : undefined);
  ui.times.result.textContent = ms(t?.submitToResult);
  ui.times.total.textContent = ms(t?.total);
  if (r.source === 'image') {
    ui.fps.textContent = '–';
  } else {
    const now = performance.now();
    frameTimes.push(now);
    // The last ten frames, or fewer on a slow adapter: the rate of the last few seconds, not of the whole run.
    while (frameTimes.length > 10 || now - frameTimes[0]! > 10_000) frameTimes.shift();
    const fps = (frameTimes.length - 1) / ((now - frameTimes[0]!) / 1000);
    ui.fps.textContent = frameTimes.length > 1 ? fps.toFixed(fps < 1 ? 2 : 1) : '–';
  }
  ui.detections.replaceChildren(
    ...r.detections.map((d) => {
      const li = document.createElement('li');
      const swatch = Object.assign(document.createElement('span'), { className: 'swatch' });
      swatch.style.background = `rgb(${classColor(d.classId).join(' ')})`;
      const b = d.box;
      li.append(
        swatch,
        `${d.label} ${d.score.toFixed(3)}`,
        Object.assign(document.createElement('small'), {
          textContent: ` at ${b.x.toFixed(0)}, ${b.y.toFixed(0)}, ${b.width.toFixed(0)}×${b.height.toFixed(0)}`,
        }),
      );
      return li;
    }),
  );
  if (!r.detections.length)
    ui.detections.append(
      Object.assign(document.createElement('li'), {
        className: 'none',
        textContent: r.allFiltered
          ? 'Every class is filtered out: tick some under Classes to detect.'
          : `Nothing detected at score ≥ ${ui.scoreValue.value}.`,
      }),
    );
}

let stillRun: Promise<void> | undefined;
let stillAgain = false;

/** Re-runs the current still image or paused video frame; calls while one runs merge into one more run. */
function rerun(): Promise<void> {
  if (source?.kind !== 'image') return source?.loop.refresh() ?? Promise.resolve();
  if (stillRun) {
    stillAgain = true;
    return stillRun;
  }
  stillRun = (async () => {
    do {
      stillAgain = false;
      const src = source;
      if (src?.kind === 'image') await detectFrame(src.bitmap, src, null, src.bitmap.width, src.bitmap.height);
    } while (stillAgain);
  })().finally(() => (stillRun = undefined));
  return stillRun;
}

function onDeviceLost(e: DeviceLostError): void {
  showMessage(messageFor(e, 'detect'));
  // A still image or a paused video has no next frame to recover on: run it again, a few times at most.
  if (++deviceLosses <= MAX_AUTO_RETRIES) void rerun();
}

/** Clears the boxes, the detection list and the figures: nothing shown belongs to a past input or model. */
function clearShown(): void {
  overlay.clear();
  ui.detections.replaceChildren();
  frameTimes.length = 0;
  ui.fps.textContent = '–';
  for (const t of Object.values(ui.times)) t.textContent = '–';
}

function stopSource(): void {
  clearMessage(...INPUT_MESSAGES);
  if (source && source.kind !== 'image') source.release();
  if (source?.kind === 'image') source.bitmap.close();
  source = undefined;
  clearShown();
  ui.camera.textContent = 'Use the camera';
}

function layout(kind: Source['kind'], width: number, height: number): void {
  ui.picture.hidden = kind !== 'image';
  ui.stage.style.setProperty('--aspect', String(width / height));
  ui.stage.classList.add('has-input');
  overlay.clear();
}

async function showImage(bitmap: ImageBitmap, name: string): Promise<void> {
  stopSource();
  // The sample selector names the picture only while a sample is shown; openSample sets it back.
  ui.sample.value = '';
  source = { kind: 'image', name, bitmap };
  ui.picture.width = bitmap.width;
  ui.picture.height = bitmap.height;
  ui.picture.getContext('2d')!.drawImage(bitmap, 0, 0);
  layout('image', bitmap.width, bitmap.height);
  await rerun();
}

/**
 * Plays a video file or a camera stream in a new <video> and detects its frames. The current input
 * stays until the new one has loaded, so a file that turns out not to be a video changes nothing.
 */
async function showVideo(
  kind: VideoSource['kind'],
  name: string,
  attach: (v: HTMLVideoElement) => void,
  detach: (v: HTMLVideoElement) => void,
): Promise<void> {
  const video = Object.assign(document.createElement('video'), {
    muted: true,
    playsInline: true,
    preload: 'auto',
  });
  attach(video);
  try {
    await new Promise<void>((ok, fail) => {
      video.onloadeddata = () => ok();
      video.onerror = () => fail(new Error(video.error?.message || 'the browser cannot play it'));
    });
    if (!video.videoWidth) throw new Error('it has no video track');
  } catch (e) {
    detach(video);
    throw e;
  }
  stopSource();
  ui.sample.value = '';
  const src: VideoSource = {
    kind,
    name,
    failures: 0,
    loop: new VideoLoop(
      video,
      () => ui.everyFrame.checked,
      (t) => detectFrame(video, src, t, video.videoWidth, video.videoHeight),
    ),
    release() {
      playback.detach();
      src.loop.stop();
      video.pause();
      detach(video);
      video.remove();
    },
  };
  source = src;
  // Visible before playback starts: a hidden video presents no frames to copy.
  ui.stage.insertBefore(video, ui.overlay);
  layout(kind, video.videoWidth, video.videoHeight);
  if (kind === 'video') playback.attach(video, src.loop);
  await src.loop.start();
}

async function openFile(file: File): Promise<void> {
  const kind = file.type.split('/')[0];
  if (kind === 'image' || kind === '') {
    const bitmap = await createImageBitmap(file, BITMAP_OPTIONS).catch(() => undefined);
    if (bitmap) return showImage(bitmap, file.name);
    if (kind === 'image')
      return showMessage(
        notMediaMessage(file, 'The browser could not decode it: the file is damaged or in a format it does not read'),
      );
  }
  if (kind === 'video' || kind === '') {
    const url = URL.createObjectURL(file);
    const detach = (v: HTMLVideoElement) => {
      v.removeAttribute('src');
      v.load();
      URL.revokeObjectURL(url);
    };
    try {
      return await showVideo('video', file.name, (v) => (v.src = url), detach);
    } catch (e) {
      return showMessage(notMediaMessage(file, `The browser cannot play it: ${(e as Error).message}`));
    }
  }
  showMessage(notMediaMessage(file, `Its type is ${file.type}`));
}

async function openSample(name: string): Promise<void> {
  try {
    const response = await fetch(`./samples/${encodeURIComponent(name)}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const shown = showImage(await createImageBitmap(await response.blob(), BITMAP_OPTIONS), name);
    ui.sample.value = name;
    await shown;
  } catch (e) {
    showMessage({
      kind: 'error',
      code: 'sample',
      title: `Cannot open the sample ${name}.`,
      detail: (e as Error).message,
    });
  }
}

async function toggleCamera(): Promise<void> {
  if (source?.kind === 'camera') {
    stopSource();
    ui.stage.classList.remove('has-input');
    return;
  }
  if (!navigator.mediaDevices?.getUserMedia) {
    return showMessage({
      kind: 'error',
      code: 'camera',
      title: 'No camera access on this page.',
      detail: 'Cameras need a secure page: https, or http://localhost / 127.0.0.1.',
    });
  }
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: false,
    });
  } catch (e) {
    const name = (e as DOMException).name;
    const title =
      name === 'NotAllowedError'
        ? 'Camera permission was denied.'
        : name === 'NotFoundError'
          ? 'No camera was found.'
          : 'The camera could not be opened.';
    return showMessage({ kind: 'error', code: 'camera', title, detail: (e as Error).message });
  }
  const stop = (v: HTMLVideoElement) => {
    for (const t of stream.getTracks()) t.stop();
    v.srcObject = null;
  };
  try {
    await showVideo('camera', stream.getVideoTracks()[0]?.label || 'camera', (v) => (v.srcObject = stream), stop);
    ui.camera.textContent = 'Stop the camera';
  } catch (e) {
    showMessage({ kind: 'error', code: 'camera', title: 'The camera gave no video.', detail: (e as Error).message });
  }
}

function wire(): void {
  ui.model.addEventListener('change', () => void useModel(ui.model.value));
  ui.file.addEventListener('change', () => {
    const file = ui.file.files?.[0];
    ui.file.value = '';
    if (file) void openFile(file);
  });
  ui.sample.addEventListener('change', () => {
    if (ui.sample.value) void openSample(ui.sample.value);
  });
  ui.camera.addEventListener('click', () => void toggleCamera());
  for (const [slider, key] of [
    [ui.score, 'score'],
    [ui.iou, 'iou'],
  ] as const) {
    slider.addEventListener('input', () => {
      chosen[key] = slider.value;
      showThresholds();
      void rerun();
    });
  }
  const classesChanged = () => {
    const boxes = [...ui.classList.querySelectorAll<HTMLInputElement>('input[type=checkbox]')];
    untickedByModel.set(demo.model, new Set(boxes.filter((b) => !b.checked).map((b) => b.parentElement!.textContent)));
    void rerun();
  };
  ui.classList.addEventListener('change', classesChanged);
  const setAll = (checked: boolean) => {
    for (const b of ui.classList.querySelectorAll<HTMLInputElement>('input[type=checkbox]')) b.checked = checked;
    classesChanged();
  };
  el('classes-all').addEventListener('click', () => setAll(true));
  el('classes-none').addEventListener('click', () => setAll(false));
  el('message-close').addEventListener('click', () => clearMessage());
  document.addEventListener('dragover', (e) => {
    e.preventDefault();
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  ui.modelFolder.addEventListener('change', () => {
    const files = [...(ui.modelFolder.files ?? [])];
    ui.modelFolder.value = '';
    if (files.length) void useModelFiles(files, files[0]!.webkitRelativePath.split('/')[0] || 'model');
  });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    if (!e.dataTransfer) return;
    // Entries can only be taken during the event: a dropped folder is read from them afterwards.
    const folder = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry()).find((entry) => entry?.isDirectory);
    const files = [...e.dataTransfer.files];
    if (folder) void dropModelFolder(folder as FileSystemDirectoryEntry);
    else if (files.some((f) => f.name === 'model.json')) void useModelFiles(files, 'dropped');
    else if (files[0]) void openFile(files[0]);
  });
}

/** A dropped folder is a model folder: its own files (model.json and the weights beside it), not its subfolders. */
async function dropModelFolder(folder: FileSystemDirectoryEntry): Promise<void> {
  try {
    const reader = folder.createReader();
    const entries: FileSystemEntry[] = [];
    // readEntries gives the listing in batches until an empty one.
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((ok, fail) => reader.readEntries(ok, fail));
      if (!batch.length) break;
      entries.push(...batch);
    }
    const files = await Promise.all(
      entries
        .filter((x): x is FileSystemFileEntry => x.isFile)
        .map((x) => new Promise<File>((ok, fail) => x.file(ok, fail))),
    );
    await useModelFiles(files, folder.name);
  } catch (e) {
    showMessage(messageFor(e, `read the dropped folder ${folder.name}`));
  }
}

async function main(): Promise<void> {
  wire();
  showThresholds();
  const params = new URLSearchParams(location.search);
  // ?model= names a bundled model, or is the URL of any model folder or model.json (a trained one, say).
  const model = params.get('model');
  const known = !!model && [...ui.model.options].some((o) => o.value === model);
  if (known) ui.model.value = model;
  // The first sample shows at once; detection follows when the model is ready.
  const sample = params.get('image') ?? 'dog.jpg';
  if (sample) {
    ui.sample.value = sample;
    await openSample(sample);
  }
  await (model && !known ? addModel(model, `${model} (URL)`, model) : useModel(ui.model.value));
}

void main();
