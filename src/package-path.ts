/**
 * Where the package's own non-code files are (`proto/`, `bin/`). This module sits in `src/`
 * when run from source (tsx) and in `dist/src/` when built, so the package root is one or two
 * levels up; every lookup of a shipped file goes through here.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** A shipped file is missing from both the source and the built layout. */
export class PackageFileNotFoundError extends Error {
  override readonly name = "PackageFileNotFoundError";
  constructor(
    readonly relativePath: string,
    readonly lookedAt: readonly string[],
  ) {
    super(`${relativePath} not found (looked at ${lookedAt.join(", ")})`);
  }
}

/**
 * The absolute path of `relativePath` (e.g. `proto/member.proto`) in this package.
 * @throws PackageFileNotFoundError when it exists in neither layout
 */
export function packagePath(relativePath: string): string {
  const candidates = [`../${relativePath}`, `../../${relativePath}`].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new PackageFileNotFoundError(relativePath, candidates);
  return found;
}
