/**
 * File-system errors in words, for the one-line messages about a file an operator named (the
 * config file, the token file, TLS files, checks files): `no such file` reads better than
 * `ENOENT`, and every such message words the same errno the same way; and a file's mode as
 * those messages show it ({@link octalMode}).
 */

/** A file's permission bits as `chmod` takes them and the messages show them: `0644`. */
export function octalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/** Why a file operation failed, in a few words (`no such file`, `permission denied`, ...). */
export function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a directory";
    case "ENOTDIR":
      return "a parent is not a directory";
    default:
      return code ?? (e as Error).message;
  }
}
