// The op registry's list (src/ops/support/registry.ts imports 'mobilessd:ops'): every module directly in
// src/ops/ is an op module exporting `op`, so adding a file there is all it takes to register an op.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export function opsPlugin(root) {
  const dir = join(root, 'src/ops');
  return {
    name: 'mobilessd-ops',
    setup(build) {
      build.onResolve({ filter: /^mobilessd:ops$/ }, () => ({ path: 'ops', namespace: 'mobilessd-ops' }));
      build.onLoad({ filter: /.*/, namespace: 'mobilessd-ops' }, () => {
        const files = readdirSync(dir)
          .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
          .sort();
        const imports = files.map((f, i) => `import { op as op${i} } from './${f}';`);
        const list = files.map((_, i) => `op${i}`).join(', ');
        return {
          contents: `${imports.join('\n')}\nexport default [${list}];\n`,
          resolveDir: dir,
          loader: 'ts',
          watchDirs: [dir],
        };
      });
    },
  };
}
