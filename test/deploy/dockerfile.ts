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
  readonly base: string;
  readonly instructions: readonly Instruction[];
}

export function readDockerfile(file = path.join(ROOT, 'Dockerfile')): Stage[] {
  const text = readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  const stages: { name: string; base: string; instructions: Instruction[] }[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [, op, args] = trimmed.match(/^(\w+)\s+(.*)$/) ?? [];
    if (!op || args === undefined) throw new Error(`unreadable Dockerfile line: ${trimmed}`);
    if (op.toUpperCase() === 'FROM') {
      const [, base, name] = args.match(/^(\S+)(?:\s+AS\s+(\S+))?$/i) ?? [];
      stages.push({ name: name ?? String(stages.length), base: base!, instructions: [] });
    } else {
      const stage = stages[stages.length - 1];
      if (!stage) throw new Error(`${op} before FROM`);
      stage.instructions.push({ op: op.toUpperCase(), args: args.replace(/\s+/g, ' ').trim() });
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
