/** What the page tells the user when something fails: a title that says what happened and what to do. */
import { DeviceLostError, InvalidInputError, MobileSsdError, NoAdapterError } from '../src/browser.ts';

export interface Message {
  kind: 'error' | 'warning' | 'info';
  /** Stable name for tests and styling. */
  code: string;
  title: string;
  detail: string;
}

export function messageFor(e: unknown, doing: string): Message {
  const detail =
    e instanceof MobileSsdError
      ? [e.message.split('\n')[0], e.hint].filter(Boolean).join('\n')
      : String((e as Error)?.message ?? e);
  if (e instanceof NoAdapterError) {
    return {
      kind: 'error',
      code: 'no-webgpu',
      title: 'WebGPU is not available in this browser, so the detector cannot run.',
      detail,
    };
  }
  if (e instanceof DeviceLostError) {
    return {
      kind: 'warning',
      code: 'device-lost',
      title: 'The GPU device was lost. Detection continues on a new device with the next frame.',
      detail,
    };
  }
  if (e instanceof InvalidInputError)
    return { kind: 'error', code: 'bad-input', title: `Cannot ${doing}: the input is not usable.`, detail };
  if (e instanceof MobileSsdError && /^MODEL_/.test(e.code))
    return { kind: 'error', code: 'model', title: `Cannot ${doing}.`, detail };
  return { kind: 'error', code: 'failed', title: `Cannot ${doing}.`, detail };
}

export function notMediaMessage(file: File, problem: string): Message {
  return {
    kind: 'error',
    code: 'not-media',
    title: `“${file.name}” is not an image or a video this browser can open.`,
    detail: `${problem}. Choose an image (JPEG, PNG, WebP, GIF, AVIF) or a video (WebM, MP4).`,
  };
}
