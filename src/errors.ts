/**
 * Every failure mobilessd reports is a MobileSsdError with a stable `code`, a message that names the
 * thing at fault, and a `hint` that says what the user can do about it.
 */
export type ErrorCode =
  | 'NO_ADAPTER'
  | 'DEVICE_LOST'
  | 'GPU_VALIDATION'
  | 'SHADER_COMPILE'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_FORMAT'
  | 'MODEL_CHECKSUM'
  | 'UNSUPPORTED_OPERATOR'
  | 'TFLITE_FORMAT'
  | 'TFJS_FORMAT'
  | 'SSD_OPTIONS'
  | 'IMAGE_DECODE'
  | 'IMAGE_TOO_LARGE'
  | 'INVALID_INPUT'
  | 'INVALID_OPTION'
  | 'FILE_ACCESS'
  | 'DATASET_FORMAT'
  | 'TOOL_MISSING'
  | 'VIDEO'
  | 'GPU_LIMIT'
  | 'CHECKPOINT'
  | 'TRAINING_DIVERGED'
  | 'DISPOSED';

export class MobileSsdError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(options.hint ? `${message}\n  hint: ${options.hint}` : message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
}

export class NoAdapterError extends MobileSsdError {
  constructor(message: string, hint: string) {
    super('NO_ADAPTER', message, { hint });
  }
}
export class DeviceLostError extends MobileSsdError {
  constructor(
    message: string,
    cause?: unknown,
    hint = 'the detector re-creates its device on the next call; if it keeps happening, check the GPU driver',
  ) {
    super('DEVICE_LOST', message, { hint, cause });
  }
}
export class GpuValidationError extends MobileSsdError {
  constructor(message: string) {
    super('GPU_VALIDATION', message, { hint: 'this is a mobilessd bug; please report it with the message above' });
  }
}
/** A request beyond what this adapter can allocate or bind: a batch, frame or model too large for its limits. */
export class GpuLimitError extends MobileSsdError {
  constructor(message: string, hint: string) {
    super('GPU_LIMIT', message, { hint });
  }
}
export class ShaderCompileError extends MobileSsdError {
  constructor(label: string, messages: string) {
    super('SHADER_COMPILE', `WGSL compilation failed for ${label}:\n${messages}`);
  }
}
export class ModelNotFoundError extends MobileSsdError {
  constructor(what: string, hint: string) {
    super('MODEL_NOT_FOUND', `model not found: ${what}`, { hint });
  }
}
export class ModelFormatError extends MobileSsdError {
  constructor(
    file: string,
    problem: string,
    hint = 'delete the model folder (or its cached copy) and load the source .tflite or TF.js manifest again: `mobilessd info --model FILE` converts it',
  ) {
    super('MODEL_FORMAT', `${file}: ${problem}`, { hint });
  }
}
export class ChecksumError extends MobileSsdError {
  constructor(
    file: string,
    expected: string,
    actual: string,
    hint = 'the weights file is corrupt or belongs to another model; delete it and convert again',
  ) {
    super('MODEL_CHECKSUM', `${file}: checksum mismatch (expected ${expected}, got ${actual})`, { hint });
  }
}
export class UnsupportedOperatorError extends MobileSsdError {
  constructor(
    file: string,
    op: string,
    detail = '',
    hint = 'mobilessd runs MobileNet-SSD graphs of convolutions, element-wise ops and reshapes',
  ) {
    super('UNSUPPORTED_OPERATOR', `${file}: unsupported operator ${op}${detail ? ` (${detail})` : ''}`, { hint });
  }
}
export class TfliteFormatError extends MobileSsdError {
  constructor(file: string, problem: string) {
    super('TFLITE_FORMAT', `${file}: not a valid TFLite model: ${problem}`, {
      hint: 'check that the file is a complete .tflite flatbuffer (identifier TFL3)',
    });
  }
}
/** MediaPipe SSD options (a `<model>.ssd.json` sidecar or the `ssdOptions` load option) that cannot be used. */
export class SsdOptionsError extends MobileSsdError {
  constructor(where: string, problem: string) {
    super('SSD_OPTIONS', `${where}: ${problem}`, {
      hint: "write MediaPipe's calculator options with MediaPipe's field names, as in docs/ssd_options.md (BlazeFace's are there)",
    });
  }
}
export class TfjsFormatError extends MobileSsdError {
  constructor(file: string, problem: string) {
    super('TFJS_FORMAT', `${file}: not a valid TF.js weights manifest: ${problem}`, {
      hint: 'pass the *-weights_manifest.json with its .bin shards beside it',
    });
  }
}
export class ImageDecodeError extends MobileSsdError {
  constructor(
    source: string,
    problem: string,
    hint = 'mobilessd reads JPEG and PNG files, or raw RGBA {data, width, height}',
  ) {
    super('IMAGE_DECODE', `${source}: cannot decode image: ${problem}`, { hint });
  }
}
export class ImageTooLargeError extends MobileSsdError {
  constructor(
    source: string,
    width: number,
    height: number,
    limit: string,
    hint = 'downscale the image before detection',
  ) {
    super('IMAGE_TOO_LARGE', `${source}: image of ${width}x${height} is too large (${limit})`, { hint });
  }
}
export class InvalidInputError extends MobileSsdError {
  constructor(message: string, hint?: string) {
    super('INVALID_INPUT', message, hint === undefined ? {} : { hint });
  }
}
export class InvalidOptionError extends MobileSsdError {
  constructor(option: string, value: unknown, expected: string) {
    super('INVALID_OPTION', `invalid ${option}: ${JSON.stringify(value) ?? String(value)} (expected ${expected})`);
  }
}
export class DatasetFormatError extends MobileSsdError {
  constructor(file: string, problem: string) {
    super('DATASET_FORMAT', `${file}: ${problem}`, {
      hint: 'datasets are read as PASCAL VOC XML folders, COCO JSON, or YOLO txt with a classes.txt',
    });
  }
}
export class ToolMissingError extends MobileSsdError {
  constructor(tool: string, hint: string) {
    super('TOOL_MISSING', `${tool} was not found on PATH`, { hint });
  }
}
export class DisposedError extends MobileSsdError {
  constructor(what: string) {
    super('DISPOSED', `${what} has been disposed`, { hint: 'load the model again' });
  }
}
/** A training checkpoint that a run cannot continue from: found without --resume, made with other settings, damaged. */
export class CheckpointError extends MobileSsdError {
  constructor(message: string, hint: string) {
    super('CHECKPOINT', message, { hint });
  }
}
/** The training loss stopped being a finite number: the learning rate is too high for this model and data. */
export class TrainingDivergedError extends MobileSsdError {
  constructor(step: number, epoch: number, lr: number, loss: number) {
    const at = `step ${step} (epoch ${epoch}, learning rate ${lr}): loss ${loss}`;
    super('TRAINING_DIVERGED', `the training loss diverged at ${at}`, {
      hint:
        'train again with a lower --lr (a half or a tenth; plain SGD on these heads is stable up to about 0.02), ' +
        'into a new --out: the checkpoint of the last finished epoch stays where it is',
    });
  }
}
/** ffmpeg or ffprobe failed on a video file; the message ends with the tool's last stderr lines. */
export class VideoError extends MobileSsdError {
  readonly file: string;
  readonly toolOutput: readonly string[];
  constructor(
    file: string,
    problem: string,
    toolOutput: readonly string[] = [],
    hint = `check that ffmpeg can read the file: ffprobe "${file}"`,
  ) {
    super('VIDEO', `${file}: ${problem}${toolOutput.map((line) => `\n  | ${line}`).join('')}`, { hint });
    this.file = file;
    this.toolOutput = toolOutput;
  }
}
/** An image file that cannot be read at all (missing, a directory, no permission); decoding problems are ImageDecodeError. */
export class ImageFileError extends InvalidInputError {
  constructor(path: string, problem: string, hint: string) {
    super(`${path}: ${problem}`, hint);
  }
}
/**
 * A file or folder that cannot be read or written: missing, the wrong kind (a folder, a FIFO, a device),
 * no permission, too large. `path` names it; the hint says what to do.
 */
export class FileAccessError extends MobileSsdError {
  readonly path: string;
  constructor(path: string, problem: string, hint: string, cause?: unknown) {
    super('FILE_ACCESS', `${path}: ${problem}`, { hint, cause });
    this.path = path;
  }
}
