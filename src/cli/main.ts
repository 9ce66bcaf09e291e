#!/usr/bin/env node
/**
 * The `mobilessd` command line. Each command parses its own flags; the process exits explicitly
 * because Dawn keeps the event loop alive for as long as its instance lives.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { helpText, type CommandSpec } from './args.ts';
import { detectCommand, runDetectCommand } from './detect.ts';
import { doctorCommand, runDoctorCommand } from './doctor.ts';
import { evalCommand, runEvalCommand } from './eval.ts';
import { exportWebCommand, runExportWebCommand } from './export_web.ts';
import { infoCommand, modelsCommand, runInfoCommand, runModelsCommand } from './models.ts';
import { runTrainCommand, trainCommand } from './train.ts';
import { runVideoCommand, videoCommand } from './video.ts';
import { packageRoot } from '../node/paths.ts';

const commands: Record<string, { spec: CommandSpec; run: (argv: readonly string[]) => Promise<number> }> = {
  detect: { spec: detectCommand, run: runDetectCommand },
  video: { spec: videoCommand, run: runVideoCommand },
  eval: { spec: evalCommand, run: runEvalCommand },
  train: { spec: trainCommand, run: runTrainCommand },
  models: { spec: modelsCommand, run: runModelsCommand },
  info: { spec: infoCommand, run: runInfoCommand },
  'export-web': { spec: exportWebCommand, run: runExportWebCommand },
  doctor: { spec: doctorCommand, run: runDoctorCommand },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length)) + 2;
  return [
    'mobilessd: MobileNet-SSD object detection on WebGPU',
    '',
    'usage: mobilessd <command> [options]',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}${c.spec.summary}`),
    '',
    'Run `mobilessd <command> --help` for its options.',
  ].join('\n');
}

function version(): string {
  const root = packageRoot();
  return root
    ? (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
    : 'unknown';
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    process.stdout.write(`${topic && commands[topic] ? helpText(commands[topic].spec) : usage()}\n`);
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`mobilessd: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`mobilessd: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
