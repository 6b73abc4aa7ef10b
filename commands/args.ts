import { z } from 'zod';
import { SAFE_NAME } from '../src/config/schema.js';

/** A service argument: checked against the safe alphabet here, against the config by the engine. */
export const serviceArg = z.string({ error: 'name a service' }).regex(SAFE_NAME, 'is not a valid service name');
export const approvalIdArg = z
  .string({ error: 'name an approval id' })
  .regex(/^apr_[a-f0-9]{8}$/, 'is not an approval id (like apr_1a2b3c4d)');
