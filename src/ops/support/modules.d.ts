/** Every op module of src/ops/, collected at build time by scripts/esbuild_ops.mjs. */
declare module 'mobilessd:ops' {
  import type { OpDef } from './op_def.ts';

  const ops: readonly OpDef[];
  export default ops;
}
