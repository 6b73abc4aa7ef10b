import { benchAlerts } from './alerts.js';
import { benchCi } from './ci.js';
import { benchAppErrors } from './app-errors.js';
import { benchDiagnosis, benchDockerHealOverhead, benchHealOverhead } from './diagnosis.js';
import { benchImage } from './image.js';
import { benchDockerHealing } from './docker-healing.js';
import { benchIntakeOpenLoop } from './intake.js';
import { benchPatterns } from './patterns.js';

/** `npm run bench`: prints each figure as `name value`, one per line. */
async function main(): Promise<void> {
  const suites: [string, () => Promise<Record<string, number | string>>][] = [
    ['diagnosis', benchDiagnosis],
    ['heal', benchHealOverhead],
    ['heal (Docker)', benchDockerHealOverhead],
    ['Docker healing at event speed', benchDockerHealing],
    ['intake, open loop (healbot serve in its own process)', benchIntakeOpenLoop],
    ['alerts (closed loop, in process)', benchAlerts],
    ['container image', benchImage],
    ['ci', benchCi],
    ['failure patterns', benchPatterns],
    ['application errors', benchAppErrors],
  ];
  for (const [name, run] of suites) {
    process.stdout.write(`# ${name}\n`);
    const figures = await run();
    for (const [key, value] of Object.entries(figures)) process.stdout.write(`${key.padEnd(56)} ${value}\n`);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bench failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
