/**
 * A small declarative argument parser: each command declares its flags once, and the same table
 * drives parsing, validation and `--help`. Usage errors are UsageError (exit code 2).
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface FlagSpec {
  name: string;
  alias?: string;
  type: 'string' | 'number' | 'boolean' | 'list';
  /** Shown in help; a string flag whose value is lowercase words joined by '|' ('auto|hardware') accepts only those. */
  value?: string;
  help: string;
  default?: string | number | boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: FlagSpec[];
  /** Extra help text (examples). */
  details?: string;
}

export type ParsedFlags = Record<string, string | number | boolean | string[] | undefined>;

export function parseArgs(spec: CommandSpec, argv: readonly string[]): { flags: ParsedFlags; positional: string[] } {
  const flags: ParsedFlags = {};
  const positional: string[] = [];
  for (const f of spec.flags) if (f.default !== undefined) flags[f.name] = f.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    let key = a.replace(/^--?/, '');
    let inline: string | undefined;
    const eq = key.indexOf('=');
    if (eq >= 0) {
      inline = key.slice(eq + 1);
      key = key.slice(0, eq);
    }
    const f =
      spec.flags.find((x) => x.name === key || x.alias === key) ??
      (key.startsWith('no-') ? spec.flags.find((x) => x.name === key.slice(3) && x.type === 'boolean') : undefined);
    if (!f) throw new UsageError(`unknown option ${a} for \`${spec.name}\` (see \`mobilessd ${spec.name} --help\`)`);
    if (f.type === 'boolean') {
      if (inline !== undefined && !/^(true|false)$/.test(inline))
        throw new UsageError(`--${f.name} takes no value or true/false, got "${inline}"`);
      flags[f.name] = key.startsWith('no-') ? false : inline !== 'false';
      continue;
    }
    const v = inline ?? argv[++i];
    if (v === undefined) throw new UsageError(`--${f.name} needs a value (${f.value ?? f.type})`);
    if (f.type === 'number') {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${f.name} must be a number, got "${v}"`);
      flags[f.name] = n;
    } else if (f.type === 'list') {
      const prev = flags[f.name];
      const items = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (!items.length) throw new UsageError(`--${f.name} needs at least one value (${f.value ?? 'A,B'}), got "${v}"`);
      flags[f.name] = [...(Array.isArray(prev) ? prev : []), ...items];
    } else {
      const choices = choicesOf(f);
      if (choices && !choices.includes(v))
        throw new UsageError(`--${f.name} must be one of ${choices.join(', ')}, got "${v}"`);
      flags[f.name] = v;
    }
  }
  return { flags, positional };
}

export function helpText(spec: CommandSpec): string {
  const rows = spec.flags.map((f) => {
    const left = `  ${f.alias ? `-${f.alias}, ` : '    '}--${f.name}${f.type === 'boolean' ? '' : ` ${f.value ?? f.type.toUpperCase()}`}`;
    const def = f.default !== undefined && f.type !== 'boolean' ? ` (default: ${f.default})` : '';
    return [left, `${f.help}${def}`];
  });
  const width = Math.max(0, ...rows.map((r) => r[0]!.length)) + 2;
  return [
    `mobilessd ${spec.name}: ${spec.summary}`,
    '',
    `usage: ${spec.usage}`,
    '',
    'options:',
    ...rows.map(([l, r]) => l!.padEnd(width) + r),
    '  -h, --help'.padEnd(width) + 'show this help',
    ...(spec.details ? ['', spec.details] : []),
  ].join('\n');
}

/** The accepted values of an enumerated string flag (its `value` is lowercase words joined by '|'). */
function choicesOf(f: FlagSpec): string[] | undefined {
  return f.type === 'string' && f.value && /^[a-z0-9-]+(\|[a-z0-9-]+)+$/.test(f.value) ? f.value.split('|') : undefined;
}
