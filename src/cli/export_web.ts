/** `mobilessd export-web`: a model's browser files, with integrity hashes, into a web app's folder. */
import { BUNDLED_MODELS, DEFAULT_MODEL } from '../node/model_registry.ts';
import { exportWeb, WEB_MANIFEST, type WebPrecision } from '../node/web_export.ts';
import { helpText, parseArgs, UsageError, type CommandSpec } from './args.ts';
import { mb, reportError } from './common.ts';

export const exportWebCommand: CommandSpec = {
  name: 'export-web',
  summary: "write a model's browser files (model.json, weights, manifest.json with sha384 integrity) into a folder",
  usage: 'mobilessd export-web --out DIR [--model NAME|PATH] [--precision auto|float16|float32] [--name NAME]',
  flags: [
    { name: 'out', alias: 'o', type: 'string', value: 'DIR', help: "the app's static folder, e.g. public/models" },
    {
      name: 'model',
      alias: 'm',
      type: 'list',
      value: 'NAME|PATH',
      help: `${BUNDLED_MODELS.map((m) => m.name).join(', ')}, or a .tflite / TF.js manifest / converted model folder (comma separated for several)`,
      default: DEFAULT_MODEL,
    },
    {
      name: 'precision',
      type: 'string',
      value: 'auto|float16|float32',
      help: 'auto: lossless, float16 where exact (half the download for float16 sources), else float32; float16: every weight rounded to float16 (half the download, lossy)',
      default: 'auto',
    },
    {
      name: 'name',
      type: 'string',
      value: 'NAME',
      help: "folder and manifest name (one model only; default the model's)",
    },
  ],
  details: [
    'Then, in the app: load({ url: "/models/<name>/model.json", integrity: "sha384-..." }) from mobilessd/browser,',
    `with the url and integrity that ${WEB_MANIFEST} lists (or load("<name>", { baseUrl: "/models/" }) without the check).`,
  ].join('\n'),
};

export async function runExportWebCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${helpText(exportWebCommand)}\n`);
    return 0;
  }
  try {
    const { flags, positional } = parseArgs(exportWebCommand, argv);
    if (positional.length) throw new UsageError(`unexpected argument ${positional[0]} (the model goes in --model)`);
    const out = flags.out as string | undefined;
    if (!out) throw new UsageError('--out DIR is required (the folder your app serves, e.g. public/models)');
    const models = flags.model as string[] | string;
    const list = Array.isArray(models) ? models : [models];
    if (flags.name !== undefined && list.length > 1) throw new UsageError('--name needs a single --model');
    for (const model of list) {
      const e = await exportWeb(model, out, {
        precision: flags.precision as WebPrecision,
        ...(flags.name !== undefined ? { name: flags.name as string } : {}),
        log: (s) => process.stderr.write(`mobilessd: ${s}\n`),
      });
      process.stdout.write(
        `${e.name}: ${e.dir} (${mb(e.bytes)} to download, ${e.layout === 'float16-le' ? 'float16' : 'float32'} weights, ${e.classes} class${e.classes === 1 ? '' : 'es'}, ${e.input[0]}x${e.input[1]})\n` +
          `  load({ url: '<where ${out} is served>/${e.url}', integrity: '${e.integrity}' })\n`,
      );
    }
    process.stdout.write(`manifest: ${out}/${WEB_MANIFEST}\n`);
    return 0;
  } catch (e) {
    return reportError(e);
  }
}
