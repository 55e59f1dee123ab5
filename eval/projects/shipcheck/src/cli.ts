#!/usr/bin/env node
// shipcheck validate|diff|list <manifest...>
import { Command, InvalidArgumentError, Option } from "commander";
import { diffManifests } from "./diff.js";
import { formatChanges, formatServices } from "./format.js";
import { ManifestError, loadManifest } from "./load.js";

function parseReplicaCap(value: string): number {
  const n = Number.parseInt(value, 10);
  if (Number.isNaN(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

export function buildProgram(): Command {
  const program = new Command()
    .name("shipcheck")
    .description("Validate and diff deployment manifests")
    .version("0.4.1")
    .showHelpAfterError()
    .addOption(
      new Option("--format <format>", "output format").choices(["text", "json"]).default("text"),
    );

  program
    .command("validate")
    .description("check one or more manifests")
    .argument("<files...>", "manifest files")
    .option("--max-replicas <n>", "fail when a service asks for more", parseReplicaCap)
    .action(async (files: string[], opts: { maxReplicas?: number }) => {
      let failed = 0;
      for (const file of files) {
        try {
          const manifest = await loadManifest(file);
          const over = manifest.services.filter((s) => opts.maxReplicas && s.replicas > opts.maxReplicas);
          for (const s of over) console.error(`${file}: ${s.name}: ${s.replicas} replicas`);
          if (over.length) failed++;
        } catch (err) {
          if (!(err instanceof ManifestError)) throw err;
          failed++;
          for (const p of err.problems) console.error(`${file}: ${p}`);
        }
      }
      if (failed) program.error(`${failed} manifest(s) failed`, { exitCode: 1 });
    });

  program
    .command("diff")
    .description("show what changes between two manifests")
    .argument("<before>")
    .argument("<after>")
    .action(async (before: string, after: string) => {
      const changes = diffManifests(await loadManifest(before), await loadManifest(after));
      const { format } = program.opts<{ format: string }>();
      console.log(format === "json" ? JSON.stringify(changes) : formatChanges(changes));
    });

  program
    .command("list")
    .argument("<file>")
    .action(async (file: string) => {
      console.log(formatServices(await loadManifest(file)));
    });

  return program;
}

buildProgram().parseAsync(process.argv);
