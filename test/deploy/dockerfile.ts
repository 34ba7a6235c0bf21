/**
 * The Dockerfile read as stages of instructions, for the tests that check it and replay it without a Docker engine.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');

export interface Instruction {
  /** Upper-case, e.g. `RUN`. */
  readonly op: string;
  /** Whitespace collapsed, line continuations joined. */
  readonly args: string;
}

export interface Stage {
  readonly name: string;
  /** The image, with the global `ARG`s' defaults substituted. */
  readonly base: string;
  readonly instructions: readonly Instruction[];
}

/** The `ARG`s before the first `FROM`, with their defaults. */
export function globalArgs(file = path.join(ROOT, 'Dockerfile')): Record<string, string> {
  const args: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^\s*FROM\s/i.test(line)) break;
    const [, name, value] = line.match(/^\s*ARG\s+(\w+)(?:=(\S*))?\s*$/i) ?? [];
    if (name) args[name] = value ?? '';
  }
  return args;
}

export function readDockerfile(file = path.join(ROOT, 'Dockerfile')): Stage[] {
  const text = readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  const args = globalArgs(file);
  const stages: { name: string; base: string; instructions: Instruction[] }[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [, op, rest] = trimmed.match(/^(\w+)\s+(.*)$/) ?? [];
    if (!op || rest === undefined) throw new Error(`unreadable Dockerfile line: ${trimmed}`);
    if (op.toUpperCase() === 'ARG' && stages.length === 0) continue; // globalArgs
    if (op.toUpperCase() === 'FROM') {
      const [, base, name] = rest.match(/^(\S+)(?:\s+AS\s+(\S+))?$/i) ?? [];
      const resolved = base!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => args[(a ?? b)!] ?? '');
      stages.push({ name: name ?? String(stages.length), base: resolved, instructions: [] });
    } else {
      const stage = stages[stages.length - 1];
      if (!stage) throw new Error(`${op} before FROM`);
      stage.instructions.push({ op: op.toUpperCase(), args: rest.replace(/\s+/g, ' ').trim() });
    }
  }
  return stages;
}

/** `ENV A=1 B=2` instructions of a stage, merged. */
export function stageEnv(stage: Stage): Record<string, string> {
  return Object.fromEntries(
    stage.instructions.filter((i) => i.op === 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])),
  );
}

/** The last argument string of an instruction in a stage. */
export function lastOf(stage: Stage, op: string): string | undefined {
  return stage.instructions.filter((i) => i.op === op).at(-1)?.args;
}
