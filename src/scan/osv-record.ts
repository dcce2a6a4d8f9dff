/**
 * The part of an OSV record (https://ossf.github.io/osv-schema/) that scanning uses, validated
 * leniently: unknown fields pass, and a malformed `affected` entry is a malformed record.
 *
 * @example
 * const record = parseOsvRecord(JSON.parse(text)); // throws InvalidArgumentError when not OSV
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../errors/index.ts';

const severitySchema = z.object({ type: z.string(), score: z.string() });

const eventSchema = z.object({
  introduced: z.string().optional(),
  fixed: z.string().optional(),
  last_affected: z.string().optional(),
  limit: z.string().optional(),
});

const affectedSchema = z.object({
  package: z.object({ ecosystem: z.string(), name: z.string(), purl: z.string().optional() }).optional(),
  severity: z.array(severitySchema).optional(),
  ranges: z
    .array(z.object({ type: z.string(), repo: z.string().optional(), events: z.array(eventSchema) }))
    .optional(),
  versions: z.array(z.string()).optional(),
  ecosystem_specific: z.record(z.string(), z.unknown()).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

const recordSchema = z.object({
  id: z.string().min(1),
  aliases: z.array(z.string()).optional(),
  summary: z.string().optional(),
  details: z.string().optional(),
  withdrawn: z.string().optional(),
  severity: z.array(severitySchema).optional(),
  affected: z.array(affectedSchema).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

export type OsvRecord = z.infer<typeof recordSchema>;
export type OsvAffected = z.infer<typeof affectedSchema>;
export type OsvEvent = z.infer<typeof eventSchema>;
export type OsvSeverity = z.infer<typeof severitySchema>;

export function parseOsvRecord(value: unknown): OsvRecord {
  const result = recordSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new InvalidArgumentError(
      `Cannot read OSV record: ${issue ? `${issue.path.join('.') || 'record'}: ${issue.message}` : 'invalid'}`,
    );
  }
  return result.data;
}
