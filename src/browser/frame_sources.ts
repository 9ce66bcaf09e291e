/**
 * Browser inputs as FrameSources. Images, canvases, video elements and VideoFrames go into the frame
 * texture with copyExternalImageToTexture, so the browser copies them on the GPU and no pixel passes
 * through JavaScript; raw RGBA ({data, width, height} or ImageData) goes up with writeTexture.
 */
import type { FrameSource } from '../api/detector.ts';
import type { GpuContext } from '../gpu/context.ts';
import { InvalidInputError } from '../errors.ts';
import type { RgbaImage } from '../core/image.ts';
import { fitToLimit } from '../image/fit.ts';
import { toRgbaImage } from '../image/rgba.ts';
import { rgbaFrame } from '../api/rgba_frame.ts';

/** Anything copyExternalImageToTexture accepts. */
export type ExternalImage =
  ImageBitmap | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | HTMLVideoElement | VideoFrame;
export type BrowserImageInput = ExternalImage | ImageData | RgbaImage;

const INPUT_HINT =
  'pass an ImageBitmap, a loaded <img>, a <canvas> or OffscreenCanvas, a <video> with a current frame, a VideoFrame, ImageData, or {data, width, height} RGBA pixels';

/** `instanceof` against a global constructor that may not exist here (workers have no HTMLImageElement). */
function isA<T>(value: unknown, name: string): value is T {
  const ctor = (globalThis as Record<string, unknown>)[name];
  return typeof ctor === 'function' && value instanceof (ctor as abstract new (...args: never[]) => unknown);
}

function isExternalImage(input: unknown): input is ExternalImage {
  return [
    'ImageBitmap',
    'HTMLImageElement',
    'HTMLCanvasElement',
    'OffscreenCanvas',
    'HTMLVideoElement',
    'VideoFrame',
  ].some((n) => isA(input, n));
}

/** The pixel size copyExternalImageToTexture will copy, or an error saying why there is no frame yet. */
function externalSize(source: ExternalImage): { width: number; height: number; what: string } {
  const none = (what: string, problem: string, hint: string) => new InvalidInputError(`${what} ${problem}`, hint);
  if (isA<HTMLImageElement>(source, 'HTMLImageElement')) {
    const src = source.currentSrc || source.src;
    // A data: URL can be megabytes long.
    const what = `<img src="${src.length > 80 ? `${src.slice(0, 77)}...` : src}">`;
    if (!source.complete) throw none(what, 'has not finished loading', 'await img.decode() before detect()');
    if (!source.naturalWidth) throw none(what, 'could not be decoded (a broken or unsupported image)', INPUT_HINT);
    return { width: source.naturalWidth, height: source.naturalHeight, what };
  }
  if (isA<HTMLVideoElement>(source, 'HTMLVideoElement')) {
    const what = '<video>';
    if (source.readyState < HTMLMediaElement.HAVE_CURRENT_DATA) {
      throw none(
        what,
        'has no current frame yet',
        "wait for its 'loadeddata' event, or call detect() from requestVideoFrameCallback",
      );
    }
    if (!source.videoWidth) throw none(what, 'has no video track', 'choose a file or stream with video');
    return { width: source.videoWidth, height: source.videoHeight, what };
  }
  if (isA<VideoFrame>(source, 'VideoFrame')) {
    // A closed VideoFrame reports a zero size.
    if (!source.displayWidth) throw none('VideoFrame', 'is closed', 'detect() before calling frame.close()');
    return { width: source.displayWidth, height: source.displayHeight, what: 'VideoFrame' };
  }
  const what = source.constructor.name;
  // A closed ImageBitmap reports a zero size too.
  if (!source.width || !source.height) throw none(what, `is empty (${source.width}x${source.height})`, INPUT_HINT);
  return { width: source.width, height: source.height, what };
}

/** A frame copied by the browser on the GPU. */
function externalFrame(source: ExternalImage): FrameSource {
  const { width, height, what } = externalSize(source);
  return {
    width,
    height,
    upload(ctx, texture) {
      try {
        ctx.queue.copyExternalImageToTexture({ source }, { texture }, [width, height]);
      } catch (e) {
        if (e instanceof DOMException && e.name === 'SecurityError') {
          throw new InvalidInputError(
            `${what} comes from another origin and cannot be read`,
            'serve it with CORS headers and set crossOrigin = "anonymous" on the element before it loads',
          );
        }
        throw new InvalidInputError(
          `${what}: the browser could not copy it to the GPU (${(e as Error).message})`,
          INPUT_HINT,
        );
      }
    },
  };
}

/**
 * The FrameSource for any browser input, and the factor that maps its pixels back to the input's.
 * Inputs larger than the adapter's texture limit are downscaled first (by the browser for images and
 * video, on the CPU for raw pixels), as the Node entry does.
 */
export async function frameFor(
  input: BrowserImageInput,
  ctx: GpuContext,
  warn: (message: string) => void,
): Promise<{ frame: FrameSource; factor: number }> {
  const maxSide = ctx.report.limits.maxTextureDimension2D ?? 8192;
  if (!isExternalImage(input)) {
    const fit = fitToLimit(rawImage(input), maxSide, 'image', warn);
    return { frame: rgbaFrame(fit.image), factor: fit.factor };
  }
  const { width, height, what } = externalSize(input);
  const f = Math.ceil(Math.max(width, height) / maxSide);
  const direct = !isVideo(input) || copiesVideo(ctx, input, warn);
  if (f === 1 && direct) return { frame: externalFrame(input), factor: 1 };
  const [w, h] = [Math.floor(width / f), Math.floor(height / f)];
  if (f > 1)
    warn(`${what}: ${width}x${height} exceeds this GPU's texture limit of ${maxSide}; downscaled by ${f} to ${w}x${h}`);
  const bitmap = await createImageBitmap(
    input,
    f > 1 ? { resizeWidth: w, resizeHeight: h, resizeQuality: 'high' } : {},
  ).catch((e: unknown) => {
    // A <video> that reports a current frame may have none decoded yet (a camera just started).
    throw isVideo(input)
      ? new InvalidInputError(
          `${what} has no decoded frame to copy yet (${(e as Error).message})`,
          'start detection from requestVideoFrameCallback, which runs once a frame is presented',
        )
      : e;
  });
  const frame = externalFrame(bitmap);
  return {
    frame: {
      ...frame,
      upload(c, texture) {
        try {
          frame.upload(c, texture);
        } finally {
          bitmap.close();
        }
      },
    },
    factor: f,
  };
}

const isVideo = (input: ExternalImage): input is HTMLVideoElement | VideoFrame =>
  isA(input, 'HTMLVideoElement') || isA(input, 'VideoFrame');

/** Per device: true once a video frame was copied, else how many probe copies failed so far. */
const videoCopies = new WeakMap<GPUDevice, true | number>();
/** Failed probes before a device is taken to be unable to copy video frames. */
const PROBES_BEFORE_FALLBACK = 3;

/**
 * Some browser setups cannot (headless Chromium whose GL runs outside ANGLE-on-Vulkan decodes to
 * CPU frames WebGPU cannot import): a 1x1 probe copy finds out, and such frames go through
 * createImageBitmap instead of failing. One failed probe proves nothing (a camera's first frame may
 * not be decoded yet), so the verdict is kept after the first success or the third failure.
 */
function copiesVideo(ctx: GpuContext, source: HTMLVideoElement | VideoFrame, warn: (message: string) => void): boolean {
  const known = videoCopies.get(ctx.device) ?? 0;
  if (known === true) return true;
  if (known >= PROBES_BEFORE_FALLBACK) return false;
  const probe = ctx.device.createTexture({
    size: [1, 1],
    format: 'rgba8unorm',
    usage: GPUTextureUsage.COPY_DST | GPUTextureUsage.RENDER_ATTACHMENT,
  });
  try {
    ctx.queue.copyExternalImageToTexture({ source }, { texture: probe }, [1, 1]);
    videoCopies.set(ctx.device, true);
    return true;
  } catch (e) {
    // Anything but a failed copy (a cross-origin video, say) is this source's problem: upload reports it.
    if (!(e instanceof DOMException && e.name === 'OperationError')) return true;
    videoCopies.set(ctx.device, known + 1);
    if (known + 1 === PROBES_BEFORE_FALLBACK)
      warn(
        `this browser cannot copy video frames into WebGPU textures directly (${e.message}); copying them through createImageBitmap instead`,
      );
    return false;
  } finally {
    probe.destroy();
  }
}

function rawImage(input: unknown): RgbaImage {
  if (input === null || typeof input !== 'object' || !('data' in input)) {
    const kind =
      input === null ? 'null' : typeof input === 'object' ? (input.constructor?.name ?? 'object') : typeof input;
    throw new InvalidInputError(`unsupported image input (${kind})`, INPUT_HINT);
  }
  return toRgbaImage(input);
}
