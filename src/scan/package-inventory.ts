/**
 * What an image has installed, from the few files that say so: the OS (os-release) and its
 * package database (dpkg's status or apk's installed). The image side reads `INVENTORY_PATHS`
 * out of the layers and hands the final files here.
 *
 * @example
 * const inventory = inventoryFromFiles(new Map([['etc/os-release', osRelease], ['var/lib/dpkg/status', status]]));
 * inventory.ecosystem; // 'Debian:12'
 */
import { parseApkInstalled } from './apk-installed.ts';
import { parseDpkgStatus } from './dpkg-status.ts';
import type { InstalledPackage } from './installed-package.ts';
import { type OsRelease, osvEcosystem, parseOsRelease } from './os-release.ts';

export const OS_RELEASE_PATHS = ['etc/os-release', 'usr/lib/os-release'] as const;
export const DPKG_STATUS_PATH = 'var/lib/dpkg/status';
export const APK_INSTALLED_PATH = 'lib/apk/db/installed';

/** The image paths (relative to its root) the scanner reads. */
export const INVENTORY_PATHS: readonly string[] = [...OS_RELEASE_PATHS, DPKG_STATUS_PATH, APK_INSTALLED_PATH];

export interface PackageInventory {
  /** Undefined when the image has no os-release. */
  os: OsRelease | undefined;
  /** The OSV ecosystem of the OS, undefined when unknown. */
  ecosystem: string | undefined;
  /** Which database the packages came from. */
  packageDb: 'dpkg' | 'apk' | undefined;
  packages: InstalledPackage[];
}

/** Builds the inventory from the image's files (relative path -> content; missing ones absent). */
export function inventoryFromFiles(files: ReadonlyMap<string, Buffer>): PackageInventory {
  const osText = OS_RELEASE_PATHS.map((path) => files.get(path)).find((data) => data !== undefined);
  const os = osText === undefined ? undefined : parseOsRelease(osText.toString('utf8'));
  const dpkg = files.get(DPKG_STATUS_PATH);
  const apk = files.get(APK_INSTALLED_PATH);
  let packageDb: PackageInventory['packageDb'];
  let packages: InstalledPackage[] = [];
  if (dpkg !== undefined) {
    packageDb = 'dpkg';
    packages = parseDpkgStatus(dpkg.toString('utf8'));
  } else if (apk !== undefined) {
    packageDb = 'apk';
    packages = parseApkInstalled(apk.toString('utf8'));
  }
  return { os, ecosystem: os ? osvEcosystem(os) : undefined, packageDb, packages };
}
