/**
 * `wharf image scan IMAGE`: the known vulnerabilities of an image's OS packages, like
 * `trivy image`, offline: the image's os-release and package database are read from its layers
 * (src/image/image-files.ts) and matched against an OSV database the operator keeps in a
 * directory (src/scan/). Registered under the `image` group by images.ts.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../errors/index.ts';
import type { OsvDatabase } from '../../scan/osv-database.ts';
import type { PackageInventory } from '../../scan/package-inventory.ts';
import { buildScanReport, severityCounts } from '../../scan/scan-report.ts';
import { SEVERITIES, type Severity } from '../../scan/severity.ts';
import type { Finding } from '../../scan/vulnerability-scan.ts';
import { CliExit } from '../cli-error.ts';
import type { CliContext } from '../context.ts';
import { withEngine } from '../engine-session.ts';
import { alignColumns } from '../format/tab-writer.ts';

interface ScanFlags {
  db?: string;
  format: string;
  severity?: string;
  exitCode: string;
}

function parseSeverities(list: string | undefined): Set<Severity> {
  if (list === undefined) return new Set(SEVERITIES);
  const wanted = new Set<Severity>();
  for (const word of list.split(',').map((w) => w.trim().toUpperCase())) {
    if (word === '') continue;
    if (!(SEVERITIES as readonly string[]).includes(word))
      throw new InvalidArgumentError(`Cannot scan: unknown severity "${word}" (use ${SEVERITIES.join(',')})`);
    wanted.add(word as Severity);
  }
  return wanted;
}

function parseExitCode(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 255)
    throw new InvalidArgumentError(`Cannot scan: --exit-code must be 0-255, not "${text}"`);
  return Number(text);
}

function tableText(image: string, inventory: PackageInventory, findings: readonly Finding[]): string {
  const counts = severityCounts(findings);
  const os = inventory.os ? `${inventory.os.prettyName || inventory.os.id}` : 'unknown OS';
  const lines = [
    `${image} (${os}, ${inventory.packages.length} packages)`,
    `Total: ${findings.length} (${SEVERITIES.map((s) => `${s}: ${counts[s]}`).join(', ')})`,
  ];
  if (findings.length === 0) return `${lines.join('\n')}\n`;
  const rows = ['PACKAGE\tINSTALLED\tFIXED\tVULNERABILITY\tSEVERITY\t'];
  for (const f of findings) {
    rows.push(`${f.package}\t${f.installedVersion}\t${f.fixedVersion ?? ''}\t${f.id}\t${f.severity}\t`);
  }
  return `${lines.join('\n')}\n\n${alignColumns(`${rows.join('\n')}\n`)
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')}`;
}

function jsonText(image: string, inventory: PackageInventory, findings: readonly Finding[]): string {
  return `${JSON.stringify(buildScanReport(image, inventory, findings), null, 2)}\n`;
}

function warnSkipped(context: CliContext, db: OsvDatabase): void {
  if (db.skippedCount === 0) return;
  const first = db.skipped[0];
  context.stderr.write(
    `Warning: skipped ${db.skippedCount} unreadable file(s) in the vulnerability database${first ? ` (first: ${first.path}: ${first.reason})` : ''}\n`,
  );
}

/** `image scan` under the `image` group: images.ts's register calls this. */
export function registerImageScanSubcommand(imageCmd: Command, context: CliContext): void {
  imageCmd
    .command('scan')
    .description("Scan an image's OS packages for known vulnerabilities (offline, against an OSV database)")
    .argument('<image>', 'IMAGE')
    .option('--db <dir>', 'Directory of OSV JSON files (default: $WHARF_ROOT/vulndb)')
    .option('--format <format>', 'Output format: table or json', 'table')
    .option('--severity <list>', `Severities to report, comma-separated (${SEVERITIES.join(',')})`)
    .option('--exit-code <n>', 'Exit code when vulnerabilities are found', '0')
    .action(async (image: string, flags: ScanFlags) => {
      if (flags.format !== 'table' && flags.format !== 'json')
        throw new InvalidArgumentError(`Cannot scan: --format must be table or json, not "${flags.format}"`);
      const wanted = parseSeverities(flags.severity);
      const exitCode = parseExitCode(flags.exitCode);
      const dbDir = flags.db ?? join(context.root(), 'vulndb');
      const [
        { readImageFiles },
        { INVENTORY_PATHS, inventoryFromFiles },
        { loadOsvDatabase },
        { findVulnerabilities },
      ] = await Promise.all([
        import('../../image/image-files.ts'),
        import('../../scan/package-inventory.ts'),
        import('../../scan/osv-database.ts'),
        import('../../scan/vulnerability-scan.ts'),
      ]);
      const files = await withEngine(context, (engine) =>
        readImageFiles(engine.images.store, image, INVENTORY_PATHS),
      );
      const inventory = inventoryFromFiles(files);
      const db = await loadOsvDatabase(dbDir, {
        ecosystems: inventory.ecosystem ? [inventory.ecosystem] : [],
      });
      warnSkipped(context, db);
      if (!inventory.ecosystem) {
        const id = inventory.os ? `${inventory.os.id} ${inventory.os.versionId}`.trim() : 'no os-release';
        context.stderr.write(`Warning: OS not supported for scanning (${id}): no OS packages checked\n`);
      }
      const findings = findVulnerabilities(inventory, db).filter((f) => wanted.has(f.severity));
      context.stdout.write(
        flags.format === 'json'
          ? jsonText(image, inventory, findings)
          : tableText(image, inventory, findings),
      );
      if (findings.length > 0 && exitCode !== 0) throw new CliExit(exitCode);
    });
}
