// What changes between two manifests, service by service.
import type { Manifest, Service } from "./schema.js";

export type Change =
  | { kind: "added"; service: string }
  | { kind: "removed"; service: string }
  | { kind: "changed"; service: string; fields: string[] };

const COMPARED: (keyof Service)[] = ["image", "replicas", "env", "ports", "owner"];

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function diffManifests(before: Manifest, after: Manifest): Change[] {
  const old = new Map(before.services.map((s) => [s.name, s]));
  const changes: Change[] = [];
  for (const service of after.services) {
    const previous = old.get(service.name);
    if (!previous) {
      changes.push({ kind: "added", service: service.name });
      continue;
    }
    const fields = COMPARED.filter((f) => !same(previous[f], service[f]));
    if (fields.length) changes.push({ kind: "changed", service: service.name, fields });
    old.delete(service.name);
  }
  for (const name of old.keys()) changes.push({ kind: "removed", service: name });
  return changes;
}
