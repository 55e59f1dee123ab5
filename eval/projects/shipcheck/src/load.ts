// Reading a manifest file and turning zod's issues into readable lines.
import { readFile } from "node:fs/promises";
import { ZodError } from "zod";
import { ManifestSchema, type Manifest } from "./schema.js";

export class ManifestError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.length} problem(s)`);
    this.name = "ManifestError";
  }
}

export function describeIssues(error: ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.join(".") : "(root)";
    return `${where}: ${issue.message}`;
  });
}

export async function loadManifest(file: string): Promise<Manifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new ManifestError(file, [`cannot read JSON: ${(err as Error).message}`]);
  }
  const result = ManifestSchema.safeParse(raw);
  if (!result.success) {
    throw new ManifestError(file, describeIssues(result.error));
  }
  return result.data;
}
