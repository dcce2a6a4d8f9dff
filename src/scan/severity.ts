/**
 * A vulnerability's severity as one of Trivy's five words. Sources, first found wins:
 * `database_specific.severity` of the record (GitHub's `MODERATE` is `MEDIUM`), then the
 * `severity[]` of the affected entry or the record: Ubuntu's priority words, a CVSS v3 vector
 * (scored, then rated as CVSS does), or a bare numeric score. Otherwise `UNKNOWN`.
 *
 * @example
 * severityOf(record, affected); // 'HIGH'
 */
import { cvss3BaseScore } from './cvss3.ts';
import type { OsvAffected, OsvRecord, OsvSeverity } from './osv-record.ts';

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;
export type Severity = (typeof SEVERITIES)[number];

const WORDS: Readonly<Record<string, Severity>> = {
  CRITICAL: 'CRITICAL',
  HIGH: 'HIGH',
  IMPORTANT: 'HIGH',
  MODERATE: 'MEDIUM',
  MEDIUM: 'MEDIUM',
  LOW: 'LOW',
  NEGLIGIBLE: 'LOW',
  UNIMPORTANT: 'LOW',
};

/**
 * The severities at or above `threshold`, CRITICAL first. UNKNOWN ranks below LOW (as in
 * Harbor): a threshold of UNKNOWN takes every finding.
 */
export function severitiesAtOrAbove(threshold: Severity): Severity[] {
  return SEVERITIES.slice(0, SEVERITIES.indexOf(threshold) + 1);
}

/** A severity word in any spelling, or undefined. */
export function severityWord(text: string): Severity | undefined {
  return WORDS[text.trim().toUpperCase()];
}

/** CVSS's qualitative rating of a base score (0.0 counts as LOW). */
export function ratingOfScore(score: number): Severity {
  if (score >= 9) return 'CRITICAL';
  if (score >= 7) return 'HIGH';
  if (score >= 4) return 'MEDIUM';
  return 'LOW';
}

function fromSeverityList(list: readonly OsvSeverity[] | undefined): Severity | undefined {
  for (const entry of list ?? []) {
    const word = severityWord(entry.score);
    if (word) return word;
    if (/^\d+(\.\d+)?$/.test(entry.score.trim())) return ratingOfScore(Number(entry.score));
    if (entry.type === 'CVSS_V3') {
      const score = cvss3BaseScore(entry.score);
      if (score !== undefined) return ratingOfScore(score);
    }
  }
  return undefined;
}

export function severityOf(record: OsvRecord, affected?: OsvAffected): Severity {
  const declared = record.database_specific?.severity;
  if (typeof declared === 'string') {
    const word = severityWord(declared);
    if (word) return word;
  }
  return fromSeverityList(affected?.severity) ?? fromSeverityList(record.severity) ?? 'UNKNOWN';
}
