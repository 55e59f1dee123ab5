// The manifest format: one file per environment, listing the services to deploy.
import { z } from "zod";

export const PortSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/),
  port: z.number().int().min(1).max(65535),
  protocol: z.enum(["tcp", "udp"]).default("tcp"),
});

export const ServiceSchema = z.object({
  name: z.string().min(1).max(63).regex(/^[a-z][a-z0-9-]*$/, "lowercase letters, digits and -"),
  image: z.string().regex(/^[\w./-]+(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/, "not an image reference"),
  replicas: z.number().int().nonnegative().default(1),
  env: z.record(z.string(), z.string()).default({}),
  ports: z.array(PortSchema).default([]),
  owner: z.string().email().optional(),
});

export const ManifestSchema = z
  .object({
    environment: z.enum(["dev", "staging", "prod"]),
    version: z.literal(1),
    services: z.array(ServiceSchema).min(1),
  })
  .superRefine((manifest, ctx) => {
    const seen = new Set<string>();
    manifest.services.forEach((service, i) => {
      if (seen.has(service.name)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `duplicate service name "${service.name}"`,
          path: ["services", i, "name"],
        });
      }
      seen.add(service.name);
    });
  });

export type Port = z.infer<typeof PortSchema>;
export type Service = z.infer<typeof ServiceSchema>;
export type Manifest = z.infer<typeof ManifestSchema>;
