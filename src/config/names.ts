import { z } from 'zod';

/**
 * Names that end up in argv arrays, API paths and chat messages. Keeping them to a safe
 * alphabet means no name can smuggle shell metacharacters, path segments or mentions.
 */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** A zod string limited to SAFE_NAME, whose error names `what`. */
export const safeName = (what: string) =>
  z
    .string()
    .regex(SAFE_NAME, `${what} must start with a letter or digit and use only letters, digits, ".", "_" or "-"`);

/** A non-empty argv array: run without a shell. */
export const argv = z
  .array(z.string().min(1))
  .min(1, 'must be a non-empty argv array, e.g. ["systemctl", "restart", "api"]');
