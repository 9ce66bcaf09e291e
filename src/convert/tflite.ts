/**
 * Reads the parts of a TensorFlow Lite model (schema.fbs, file identifier "TFL3") that a
 * MobileNet-SSD converter needs: operator codes, subgraph 0's tensors and operators, and buffer
 * data as views into the file. Builtin options are read when an op asks for them, by the schema it
 * declares (readOptions), so new ops need nothing here. Field ids follow the official schema; every
 * structural problem is a TfliteFormatError naming the file.
 */
import { TfliteFormatError } from '../errors.ts';
import type { OptionsOf, OptionsSchema, TfliteActivation } from '../ops/support/interchange.ts';
import { FlatBuffer, type Table } from './flatbuffer.ts';

/** Field ids (declaration order in schema.fbs; a union takes two ids: its type, then its value). */
const F = {
  model: { version: 0, operatorCodes: 1, subgraphs: 2, description: 3, buffers: 4 },
  operatorCode: { deprecatedBuiltinCode: 0, customCode: 1, version: 2, builtinCode: 3 },
  subgraph: { tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4 },
  tensor: { shape: 0, type: 1, buffer: 2, name: 3, quantization: 4 },
  quantization: { scale: 2, zeroPoint: 3, detailsType: 4, quantizedDimension: 6 },
  operator: {
    opcodeIndex: 0,
    inputs: 1,
    outputs: 2,
    builtinOptionsType: 3,
    builtinOptions: 4,
    customOptions: 5,
    customOptionsFormat: 6,
  },
  buffer: { data: 0, offset: 1, size: 2 },
} as const;

/** BuiltinOperator names by code, from schema.fbs, for readable errors. */
const BUILTIN_NAMES = (
  'ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE EMBEDDING_LOOKUP FLOOR ' +
  'FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION ' +
  'LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH ' +
  'CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER ' +
  'BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE ' +
  'BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ' +
  'ARG_MAX MINIMUM LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE ' +
  'TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD REDUCE_MAX PACK ' +
  'LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL ' +
  'FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL ' +
  'REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE MATRIX_SET_DIAG ROUND ' +
  'HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM ' +
  'BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG REAL COMPLEX_ABS ' +
  'HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE ' +
  'ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU ' +
  'DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ATAN2 ' +
  'UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT'
).split(' ');
export const BUILTIN = { DEQUANTIZE: 6, LOGISTIC: 14, CUSTOM: 32 } as const;

export type TensorType =
  'FLOAT32' | 'FLOAT16' | 'INT32' | 'UINT8' | 'INT64' | 'STRING' | 'BOOL' | 'INT16' | 'COMPLEX64' | 'INT8' | 'FLOAT64';
const TENSOR_TYPES: readonly TensorType[] = [
  'FLOAT32',
  'FLOAT16',
  'INT32',
  'UINT8',
  'INT64',
  'STRING',
  'BOOL',
  'INT16',
  'COMPLEX64',
  'INT8',
  'FLOAT64',
];
/** Bytes per element, for checking that constant data matches its shape. */
const ELEMENT_BYTES: Record<TensorType, number> = {
  FLOAT32: 4,
  FLOAT16: 2,
  INT32: 4,
  UINT8: 1,
  INT64: 8,
  STRING: 0,
  BOOL: 1,
  INT16: 2,
  COMPLEX64: 8,
  INT8: 1,
  FLOAT64: 8,
};

const ACTIVATIONS: readonly TfliteActivation[] = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'];

export interface Quantization {
  scale: number[];
  zeroPoint: number[];
  quantizedDimension: number;
}

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: TensorType;
  buffer: number;
  quantization: Quantization | undefined;
}

export interface OperatorCode {
  /** Builtin operator code (max of the deprecated byte field and the int field), 32 for custom. */
  builtin: number;
  custom: string | undefined;
  version: number;
  /** The builtin's schema name, or the custom code. */
  name: string;
}

export interface TfliteOperator {
  index: number;
  code: OperatorCode;
  /** Tensor indices; -1 marks an omitted optional input. */
  inputs: number[];
  outputs: number[];
  /** The builtin options table and its BuiltinOptions union type (0: none); read with readOptions. */
  optionsType: number;
  optionsTable: Table | undefined;
  customOptions: Uint8Array | undefined;
}

export interface TfliteModel {
  file: string;
  version: number;
  description: string;
  operatorCodes: OperatorCode[];
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
  /** Raw data of each buffer, as views into the file (empty for activations). */
  buffers: Uint8Array[];
}

const MAX_RANK = 8;

/** The code of a builtin operator by its schema.fbs name (test files written in code name them). */
export function builtinCode(name: string): number {
  const code = BUILTIN_NAMES.indexOf(name);
  if (code < 0) throw new RangeError(`no TFLite builtin named ${name}`);
  return code;
}

export function builtinName(code: number): string {
  return BUILTIN_NAMES[code] ?? `BUILTIN_${code}`;
}

/** Parses a .tflite file; `file` names it in errors. */
export function parseTflite(bytes: Uint8Array, file: string): TfliteModel {
  const fb = new FlatBuffer(bytes, file);
  const id = fb.identifier();
  if (id !== 'TFL3') {
    const shown = id ? JSON.stringify(id) : `none (only ${bytes.byteLength} bytes)`;
    throw new TfliteFormatError(file, `file identifier is ${shown}, expected "TFL3"`);
  }
  const model = fb.root('model');
  const version = model.u32(F.model.version, 'version');
  if (version !== 3) fb.fail(`schema version ${version} is not supported (expected 3)`);
  const operatorCodes = (model.tables(F.model.operatorCodes, 'operator_codes') ?? []).map(readOperatorCode);
  const subgraphs = model.tables(F.model.subgraphs, 'subgraphs') ?? [];
  const main = subgraphs[0] ?? fb.fail('the model has no subgraph');
  const buffers = (model.tables(F.model.buffers, 'buffers') ?? []).map((b) => readBuffer(fb, b));
  const tensors = (main.tables(F.subgraph.tensors, 'tensors') ?? []).map((t, i) =>
    readTensor(fb, t, i, buffers.length),
  );
  const tensorIndex = (i: number, what: string, optional: boolean) => {
    if (!(Number.isInteger(i) && i >= (optional ? -1 : 0) && i < tensors.length))
      fb.fail(`${what} refers to tensor ${i} of ${tensors.length}`);
    return i;
  };
  const inputs = (main.i32s(F.subgraph.inputs, 'inputs') ?? []).map((i) => tensorIndex(i, 'subgraph input', false));
  const outputs = (main.i32s(F.subgraph.outputs, 'outputs') ?? []).map((i) => tensorIndex(i, 'subgraph output', false));
  const operators = (main.tables(F.subgraph.operators, 'operators') ?? []).map((op, index): TfliteOperator => {
    const ci = op.u32(F.operator.opcodeIndex, 'opcode_index');
    const code = operatorCodes[ci] ?? fb.fail(`operator ${index} uses operator code ${ci} of ${operatorCodes.length}`);
    return {
      index,
      code,
      inputs: (op.i32s(F.operator.inputs, 'inputs') ?? []).map((t) =>
        tensorIndex(t, `operator ${index} (${code.name}) input`, true),
      ),
      outputs: (op.i32s(F.operator.outputs, 'outputs') ?? []).map((t) =>
        tensorIndex(t, `operator ${index} (${code.name}) output`, false),
      ),
      optionsType: op.u8(F.operator.builtinOptionsType, 'builtin_options_type'),
      optionsTable: op.table(F.operator.builtinOptions, 'builtin_options'),
      customOptions: op.bytes(F.operator.customOptions, 'custom_options'),
    };
  });
  return {
    file,
    version,
    description: model.string(F.model.description, 'description') ?? '',
    operatorCodes,
    tensors,
    inputs,
    outputs,
    operators,
    buffers,
  };
}

function readOperatorCode(t: Table): OperatorCode {
  // Codes above 127 only fit the newer int field; older files fill only the byte field.
  const builtin = Math.max(
    t.i8(F.operatorCode.deprecatedBuiltinCode, 'deprecated_builtin_code'),
    t.i32(F.operatorCode.builtinCode, 'builtin_code'),
  );
  const custom = t.string(F.operatorCode.customCode, 'custom_code');
  const name = builtin === BUILTIN.CUSTOM ? (custom ?? 'CUSTOM') : builtinName(builtin);
  return { builtin, custom, version: t.i32(F.operatorCode.version, 'version', 1), name };
}

function readBuffer(fb: FlatBuffer, t: Table): Uint8Array {
  // Files over 2 GB keep buffer data after the flatbuffer, addressed from the file start.
  const offset = t.u64(F.buffer.offset, 'offset');
  if (offset > 1) {
    const size = t.u64(F.buffer.size, 'size');
    fb.check(offset, size, `${t.path} external data`);
    return fb.bytes.subarray(offset, offset + size);
  }
  return t.bytes(F.buffer.data, 'data') ?? new Uint8Array(0);
}

function readTensor(fb: FlatBuffer, t: Table, index: number, bufferCount: number): TfliteTensor {
  const name = t.string(F.tensor.name, 'name') ?? `tensor_${index}`;
  const what = `tensor ${index} (${name})`;
  const shape = t.i32s(F.tensor.shape, 'shape') ?? [];
  if (shape.length > MAX_RANK) fb.fail(`${what} has rank ${shape.length}`);
  if (shape.some((d) => d < 0)) fb.fail(`${what} has a dynamic or negative dimension [${shape}]`);
  const typeCode = t.i8(F.tensor.type, 'type');
  const type = TENSOR_TYPES[typeCode];
  if (!type) fb.fail(`${what} has unknown type ${typeCode}`);
  const buffer = t.u32(F.tensor.buffer, 'buffer');
  if (buffer >= bufferCount && buffer !== 0) fb.fail(`${what} refers to buffer ${buffer} of ${bufferCount}`);
  return {
    index,
    name,
    shape,
    type,
    buffer,
    quantization: readQuantization(fb, t.table(F.tensor.quantization, 'quantization'), what),
  };
}

function readQuantization(fb: FlatBuffer, q: Table | undefined, what: string): Quantization | undefined {
  if (!q) return undefined;
  const scale = q.f32s(F.quantization.scale, 'scale') ?? [];
  if (!scale.length) return undefined;
  if (q.u8(F.quantization.detailsType, 'details_type') !== 0) fb.fail(`${what} uses custom quantization details`);
  const zeroPoint = q.i64s(F.quantization.zeroPoint, 'zero_point') ?? [];
  if (zeroPoint.length !== scale.length && zeroPoint.length > 1)
    fb.fail(`${what} has ${scale.length} scales but ${zeroPoint.length} zero points`);
  return {
    scale,
    zeroPoint: zeroPoint.length ? zeroPoint : [0],
    quantizedDimension: q.i32(F.quantization.quantizedDimension, 'quantized_dimension'),
  };
}

/**
 * An operator's builtin options by the schema its op declares: every field, the flatbuffer default
 * (0, or the schema's fallback) where the file leaves it out, and no table at all read as all defaults.
 */
export function readOptions<S extends OptionsSchema>(model: TfliteModel, op: TfliteOperator, schema: S): OptionsOf<S> {
  const what = `operator ${op.index} (${op.code.name}) ${schema.table}`;
  const fail = (problem: string): never => {
    throw new TfliteFormatError(model.file, `${what}: ${problem}`);
  };
  const t = op.optionsType === 0 ? undefined : op.optionsTable;
  if (op.optionsType !== 0 && op.optionsType !== schema.type)
    fail(`the operator carries builtin options of type ${op.optionsType}, expected ${schema.type}`);
  const out: Record<string, unknown> = {};
  for (const [key, [id, kind, fallback = 0]] of Object.entries(schema.fields)) {
    const name = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    switch (kind) {
      case 'i32':
        out[key] = t?.i32(id, name, fallback) ?? fallback;
        break;
      case 'i8':
        out[key] = t?.i8(id, name, fallback) ?? fallback;
        break;
      case 'bool':
        out[key] = t?.bool(id, name, fallback !== 0) ?? fallback !== 0;
        break;
      case 'f32':
        out[key] = t?.f32(id, name, fallback) ?? fallback;
        break;
      case 'i32s':
        out[key] = t?.i32s(id, name);
        break;
      case 'padding': {
        const code = t?.i8(id, name) ?? 0;
        if (code !== 0 && code !== 1) fail(`unknown padding ${code}`);
        out[key] = code === 0 ? 'SAME' : 'VALID';
        break;
      }
      case 'activation': {
        const code = t?.i8(id, name) ?? 0;
        out[key] = ACTIVATIONS[code] ?? fail(`unknown fused activation ${code}`);
        break;
      }
    }
  }
  return out as OptionsOf<S>;
}

/** A constant tensor's data, checked to hold exactly shape x element size bytes. */
export function tensorData(model: TfliteModel, t: TfliteTensor): Uint8Array | undefined {
  const data = model.buffers[t.buffer];
  if (!data || data.byteLength === 0) return undefined;
  const expected = elementCount(t.shape) * ELEMENT_BYTES[t.type];
  if (data.byteLength !== expected) {
    throw new TfliteFormatError(
      model.file,
      `tensor ${t.index} (${t.name}) of shape [${t.shape}] ${t.type} needs ${expected} bytes, its buffer ${t.buffer} has ${data.byteLength}`,
    );
  }
  return data;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
