import { benchAlerts } from './alerts.js';
import { benchCi } from './ci.js';
import { benchAppErrors } from './app-errors.js';
import { benchDiagnosis, benchDockerHealOverhead, benchHealOverhead } from './diagnosis.js';
import { benchImage } from './image.js';
import { benchDockerHealing } from './docker-healing.js';
import { benchIntakeOpenLoop } from './intake.js';
import { benchPatterns } from './patterns.js';
import { benchFailover } from './failover.js';

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
    ['failover (two replicas on one Postgres)', benchFailover],
  ];
  /** HEALBOT_BENCH="failover,intake" runs only the suites whose names contain one of these words. */
  const only = process.env.HEALBOT_BENCH?.split(',').map((w) => w.trim().toLowerCase());
  for (const [name, run] of suites) {
    if (only && !only.some((word) => name.toLowerCase().includes(word))) continue;
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
