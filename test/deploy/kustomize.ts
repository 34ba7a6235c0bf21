/**
 * deploy/kubernetes rendered as `kubectl apply -k` renders it (`kubectl kustomize`, the kustomize built into
 * kubectl), for the tests that read the manifests a cluster would receive.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT } from './dockerfile';

export const KUBERNETES = path.join(ROOT, 'deploy', 'kubernetes');

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are free-form YAML

/** The documents `kubectl kustomize <dir>` prints (`dir` relative to deploy/kubernetes). */
export function render(dir: string): Json[] {
  const result = spawnSync('kubectl', ['kustomize', path.join(KUBERNETES, dir)], { encoding: 'utf8' });
  if (result.error) throw new Error(`kubectl kustomize needs kubectl (apt-get install kubectl; .ci/run installs it): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr}`);
  return YAML.parseAllDocuments(result.stdout)
    .map((d) => d.toJS() as Json | null)
    .filter((d): d is Json => d !== null);
}

/** The one document of `kind` (and `name`, when given) in `docs`. */
export function only(docs: readonly Json[], kind: string, name?: string): Json {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}

/** Every Secret name and key a set of documents' pods read (`envFrom` whole Secrets as `name:*`). */
export function secretReferences(docs: readonly Json[]): string[] {
  const refs: string[] = [];
  for (const doc of docs) {
    for (const container of (doc.spec?.template?.spec?.containers ?? []) as Json[]) {
      for (const from of (container.envFrom ?? []) as Json[]) if (from.secretRef) refs.push(`${from.secretRef.name}:*`);
      for (const e of (container.env ?? []) as Json[]) if (e.valueFrom?.secretKeyRef) refs.push(`${e.valueFrom.secretKeyRef.name}:${e.valueFrom.secretKeyRef.key}`);
    }
  }
  return refs;
}
