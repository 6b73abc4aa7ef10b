import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

/** Held ownership of a store file: only its holder recovers interrupted incidents. */
export interface StoreOwnership {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims `<store>.owner`, a file holding the owner's pid, created exclusively. A file left by a
 * process that no longer runs (killed with -9) is taken over. Returns undefined when a live
 * process owns the store: a `diagnose`, or a `heal` next to a running `serve`, must then leave
 * the store's open incidents alone.
 */
export function claimStoreOwnership(storePath: string): StoreOwnership | undefined {
  const file = `${storePath}.owner`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return {
        release() {
          try {
            if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file);
          } catch {
            // Already gone.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) return undefined;
      try {
        unlinkSync(file);
      } catch {
        // Another process took it over first; the next attempt tells.
      }
    }
  }
  return undefined;
}
