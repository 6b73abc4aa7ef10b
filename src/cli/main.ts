#!/usr/bin/env node
import { main } from './program.js';

main(process.argv).then((code) => {
  process.exitCode = code;
  // Sockets kept alive by runtime clients must not hold a finished command open.
  setTimeout(() => process.exit(code), 200).unref();
});
