/**
 * `wharf registry serve --config FILE`: a JSON file whose settings the command-line flags
 * override. Every field is optional; the defaults are the embedded ones (127.0.0.1:5000,
 * `$WHARF_ROOT/registry`, logs at info, abandoned uploads removed after 7 days).
 *
 *   {
 *     "addr": "127.0.0.1:5000",
 *     "storage": "/var/lib/wharf/registry",
 *     "log": { "level": "info" },
 *     "uploads": { "maxAgeHours": 168 },
 *     "auth": { "htpasswd": "/etc/wharf/htpasswd", "service": "wharf-registry", "realm": "https://reg.example/token" },
 *     "gc": { "interval": "24h", "grace": "1h", "deleteUntagged": false },
 *     "ui": { "enabled": true },
 *     "scan": { "db": "/var/lib/wharf/vulndb", "onPush": true, "preventVulnerable": { "severity": "HIGH" } }
 *   }
 *
 * `scan` turns vulnerability scanning on (docs/registry-scan.md): `db` is the OSV directory,
 * `onPush` scans every pushed image, `preventVulnerable` refuses pulls of images whose report has
 * findings at or above the severity (CRITICAL, HIGH, MEDIUM, LOW, or UNKNOWN: any finding).
 *
 * @example
 * const config = parseRegistryConfig(await readFile(path, 'utf8'), path);
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../errors/index.ts';
import { SEVERITIES } from '../scan/severity.ts';

export const DEFAULT_REGISTRY_ADDR = '127.0.0.1:5000';
export const DEFAULT_UPLOAD_MAX_AGE_HOURS = 168;

const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export const RegistryConfigSchema = z.strictObject({
  addr: z.string().optional(),
  storage: z.string().min(1).optional(),
  log: z.strictObject({ level: LogLevel.optional() }).optional(),
  uploads: z.strictObject({ maxAgeHours: z.number().positive().optional() }).optional(),
  auth: z
    .strictObject({
      htpasswd: z.string().min(1).optional(),
      service: z.string().min(1).optional(),
      realm: z.url().optional(),
    })
    .optional(),
  gc: z
    .strictObject({
      interval: z.string().optional(),
      grace: z.string().optional(),
      deleteUntagged: z.boolean().optional(),
    })
    .optional(),
  ui: z.strictObject({ enabled: z.boolean().optional() }).optional(),
  scan: z
    .strictObject({
      db: z.string().min(1).optional(),
      onPush: z.boolean().optional(),
      preventVulnerable: z
        .strictObject({
          severity: z
            .string()
            .transform((word) => word.toUpperCase())
            .pipe(z.enum(SEVERITIES)),
        })
        .optional(),
    })
    .optional(),
});

export type RegistryConfig = z.infer<typeof RegistryConfigSchema>;
export type LogLevelName = z.infer<typeof LogLevel>;

/** Parses a config file's text; throws InvalidArgumentError naming the file and the field. */
export function parseRegistryConfig(text: string, source: string): RegistryConfig {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`Cannot read registry config ${source}: ${(error as Error).message}`);
  }
  const result = RegistryConfigSchema.safeParse(document);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'document';
    throw new InvalidArgumentError(
      `Cannot read registry config ${source}: ${where}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return result.data;
}

/** Splits `HOST:PORT` (`[::1]:5000` for IPv6); the port may be 0 (any free port). */
export function parseAddress(addr: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) {
    throw new InvalidArgumentError(`Cannot parse address "${addr}": expected HOST:PORT, e.g. 127.0.0.1:5000`);
  }
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}
