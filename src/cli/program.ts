import { createInterface } from 'node:readline/promises';
import { Command, CommanderError, Option } from 'commander';
import { createHealbot, loadRuntimes } from '../app.js';
import { openStore } from '../store/open-store.js';
import { electorFor } from '../leadership/campaign.js';
import { standbyApi } from '../leadership/standby-api.js';
import { hostname } from 'node:os';
import { loadConfig } from '../config/load.js';
import { planFor } from '../engine/plan.js';
import type { HealReport, ProgressEvent } from '../engine/types.js';
import { ConfigError, describeError, HealbotError, UsageError } from '../errors.js';
import { preflightProblems } from '../config/preflight.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diagnosisJson, progressLine } from './output.js';
import { configSecrets } from '../config/secrets.js';
import { createRedactor, redact, redactDeep } from '../redact.js';

/** Exit codes: 0 the command ran (whatever health it found), 1 healbot itself failed, 2 usage or config error. */
const EXIT_USAGE = 2;

const healingEnabled = () => !/^(false|0|no|off)$/i.test(process.env.HEALING_ENABLED ?? 'true');

/**
 * Runs `run` against a healbot built from the config. With `act` and a shared store
 * (`store.url`), the CLI campaigns like a replica first: when a `serve` leads, it must not act,
 * and `run` learns who leads instead.
 */
async function withHealbot<T>(
  configPath: string,
  run: (bot: ReturnType<typeof createHealbot>, context: { leadBy?: string }) => Promise<T>,
  options: { storePath?: string; act?: boolean } = {},
): Promise<T> {
  const config = await loadConfig(configPath);
  await loadRuntimes(config);
  // A shared store (store.url) belongs to the leading serve: a CLI run records in it but never recovers it.
  const shared = config.store.url && !options.storePath ? await openStore(config.store) : undefined;
  const chosen =
    shared && options.act
      ? await electorFor(config, {
          identity: `cli:${process.env.USER ?? 'operator'}@${hostname()}`,
          onChange: () => undefined,
          onError: () => undefined,
        })
      : undefined;
  try {
    await chosen?.elector.start();
    const leadBy = chosen && !chosen.elector.isLeader() ? chosen.elector.leader() : undefined;
    if (chosen && !chosen.elector.isLeader() && !leadBy)
      throw new UsageError(
        `cannot tell who acts on the shared store (${chosen.what}): ${chosen.elector.notLeadingBecause()}; nothing was done`,
      );
    const bot = createHealbot(config, {
      healingEnabled: healingEnabled(),
      storePath: options.storePath,
      store: shared,
      sharedStore: shared ? 'client' : undefined,
      mayAct: chosen ? () => chosen.elector.notLeadingBecause() : undefined,
    });
    try {
      return await run(bot, { leadBy });
    } finally {
      await bot.close();
    }
  } finally {
    await chosen?.elector.stop();
    await shared?.close();
  }
}

async function confirmOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: Boolean(process.stdin.isTTY) });
  try {
    const answer = await Promise.race([
      rl.question(`${question} [y/N] `),
      new Promise<string>((resolve) => rl.once('close', () => resolve(''))),
    ]);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

const HELP_FOOTER = `
Exit codes:
  0  the command ran, whatever health it found
  1  healbot itself failed (a bug: the message says so)
  2  usage or configuration error, one line on stderr naming what is wrong

Environment:
  HEALING_ENABLED=false  diagnose and plan only, never act (like --dry-run for every heal)
  LOG_LEVEL              serve's log level (info by default)
`;

/** healbot's version, from its package.json (found upward from this file, in src/ or dist/). */
function healbotVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'healbot' && pkg.version) return pkg.version;
    } catch {
      // not here: look one directory up
    }
    if (dirname(dir) === dir) return 'unknown';
    dir = dirname(dir);
  }
}

export function buildProgram(): Command {
  const program = new Command('healbot')
    .description(
      'Diagnose and heal services: probes every layer, names the root cause, acts only with approval, verifies.',
    )
    .showSuggestionAfterError(true)
    .version(healbotVersion(), '-V, --version', 'print the version of healbot')
    .addHelpText('after', HELP_FOOTER)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text), outputError: () => undefined });

  const configOption = () => new Option('-c, --config <file>', 'healbot.yml to use').default('healbot.yml');

  program
    .command('check')
    .description('validate a config file: types, dependencies, cycles, probe names, unsafe names')
    .addOption(configOption())
    .action(async (opts: { config: string }) => {
      const config = await loadConfig(opts.config);
      // Everything serve would refuse at start, so "ok" means it starts.
      const problems = preflightProblems(config);
      if (problems.length > 0) throw new ConfigError(problems, opts.config);
      const names = Object.keys(config.services);
      process.stdout.write(
        `${opts.config}: ok (${names.length} service${names.length === 1 ? '' : 's'}: ${names.join(', ')})\n`,
      );
    });

  program
    .command('diagnose')
    .description('probe every layer of a service and its dependencies and name the root cause; changes nothing')
    .argument('<service>')
    .addOption(configOption())
    .option('--json', 'print one JSON object on stdout')
    .action(async (service: string, opts: { config: string; json?: boolean }) => {
      await withHealbot(
        opts.config,
        async (bot) => {
          const diagnosis = await bot.api.diagnose(service);
          const plan = planFor(diagnosis.rootCause, {
            config: bot.config,
            diagnosis,
            supports: (s, a) => bot.sensors.runtimes[s]?.supports(a) ?? false,
          });
          if (opts.json)
            process.stdout.write(`${JSON.stringify(redactDeep(diagnosisJson(diagnosis, plan), bot.redact))}\n`);
          else {
            const lines = [
              progressLine({ type: 'finding', incidentId: '', rootCause: diagnosis.rootCause, diagnosis }),
              progressLine({ type: 'plan', incidentId: '', steps: plan }),
            ];
            process.stdout.write(bot.redact(`${lines.filter(Boolean).join('\n')}\n`));
          }
          // A diagnosis changes nothing: it does not even open the store.
        },
        { storePath: ':memory:' },
      );
    });

  program
    .command('heal')
    .description('diagnose, plan, ask before each risky step, act, verify from the inside out')
    .argument('<service>')
    .addOption(configOption())
    .option('-y, --yes', 'approve risky steps without asking')
    .option('--dry-run', 'diagnose and plan only')
    .option('--json', 'print one JSON object on stdout')
    .action(async (service: string, opts: { config: string; yes?: boolean; dryRun?: boolean; json?: boolean }) => {
      await withHealbot(
        opts.config,
        async (bot, { leadBy }) => {
          const actor = {
            platform: 'cli' as const,
            id: process.env.USER ?? 'operator',
            display: process.env.USER ?? 'the operator',
          };
          if (leadBy && !opts.dryRun) {
            // One actor at a time: the leading serve acts; the CLI records the request for it.
            await standbyApi(bot.config, bot.store).open({ service, source: 'cli', requestedBy: actor });
            process.stdout.write(
              bot.redact(
                `${leadBy} leads on the shared store: it will heal ${service} (recorded for it); follow it in chat or with GET /api/incidents?service=${service}\n`,
              ),
            );
            return;
          }
          let diagnosis: Extract<ProgressEvent, { type: 'finding' }>['diagnosis'] | undefined;
          let needsSecondApprover: (error: Error) => void = () => undefined;
          const secondApprover = new Promise<never>((_resolve, reject) => (needsSecondApprover = reject));
          bot.api.subscribe((event) => {
            if (event.type === 'finding') diagnosis = event.diagnosis;
            if (event.type === 'awaiting_approval') {
              const { step, id } = event.request;
              const decide = opts.yes
                ? Promise.resolve(true)
                : confirmOnTerminal(`${step.action} ${step.target}? (${step.reason})`);
              void decide
                .then((yes) => bot.api.decide(id, actor, yes ? 'approve' : 'deny'))
                .then((result) => {
                  // The terminal is one identity, the local operator: it can never be both of two approvers.
                  if (result.ok && result.waitingFor) {
                    needsSecondApprover(
                      new UsageError(
                        `${step.action} ${step.target} needs two approvers (policy.twoApprovers); the terminal counts as one, the local operator: a second approver must approve ${id} in chat or through the API`,
                      ),
                    );
                  }
                });
            }
            if (!opts.json) {
              const line = progressLine(event);
              if (line) process.stdout.write(bot.redact(`${line}\n`));
            }
          });
          await bot.takeOwnership();
          const report: HealReport = await Promise.race([
            bot.api.heal({ service, source: 'cli', requestedBy: actor, dryRun: opts.dryRun }),
            secondApprover,
          ]);
          if (opts.json && diagnosis)
            process.stdout.write(
              `${JSON.stringify(redactDeep(diagnosisJson(diagnosis, report.plan, report), bot.redact))}\n`,
            );
          if (report.internalError) throw new HealbotError('RUNTIME_FAILED', report.summary, { userFacing: false });
        },
        { act: true },
      );
    });

  program
    .command('serve')
    .description('run the bot: HTTP webhooks and API, chat adapters, continuous monitoring, heartbeat')
    .addOption(configOption())
    .option('--listen <host:port>', 'listen here instead of server.listen')
    .option('--console', 'use the console chat on stdin/stdout even when stdin is not a terminal')
    .action(async (opts: { config: string; listen?: string; console?: boolean }) => {
      const { runServe } = await import('../serve.js');
      await runServe(await loadConfig(opts.config), {
        listen: opts.listen,
        console: opts.console ? true : 'auto',
        healingEnabled: healingEnabled(),
      });
    });

  program
    .command('audit')
    .description('export the audit log (every request, decision and action), oldest first')
    .addOption(configOption())
    .option('--service <service>', 'only this service')
    .option('--since <time>', 'from this ISO time, or this long ago (30m, 1h, 7d)')
    .option('--json', 'one JSON object per line')
    .action(async (opts: { config: string; service?: string; since?: string; json?: boolean }) => {
      const { auditEntries, auditJsonLines, auditText, parseSince } = await import('../server/audit-export.js');
      const config = await loadConfig(opts.config);
      // The store directly, not createHealbot: recovering would close a running serve's incidents.
      const store = await openStore(config.store);
      try {
        const entries = await auditEntries(store, {
          service: opts.service,
          since: opts.since ? parseSince(opts.since) : undefined,
        });
        const redactor = createRedactor(configSecrets(config));
        process.stdout.write(redactor(opts.json ? auditJsonLines(entries) : auditText(entries)));
      } finally {
        await store.close();
      }
    });

  program
    .command('rbac')
    .description(
      'print the Kubernetes Roles and RoleBindings the config needs: one per healed namespace, plus the Lease rules',
    )
    .addOption(configOption())
    .option('--namespace <namespace>', "the namespace of healbot's ServiceAccount", 'healbot')
    .option('--service-account <name>', "healbot's ServiceAccount", 'healbot')
    .action(async (opts: { config: string; namespace: string; serviceAccount: string }) => {
      const { rbacYaml } = await import('../deploy/rbac.js');
      // Only namespaces and the Lease matter here: secrets the config names need not be set.
      const env = new Proxy(process.env, { get: (target, name: string) => target[name] ?? `unset-${name}` });
      const config = await loadConfig(opts.config, env);
      process.stdout.write(
        rbacYaml(config, { namespace: opts.namespace, serviceAccount: opts.serviceAccount, source: opts.config }),
      );
    });

  program
    .command('demo')
    .description('start a small local topology (edge → proxy → backend) and a console chat to heal it')
    .option('--script <file>', 'read console input from a file instead of the terminal')
    .action(async (opts: { script?: string }) => {
      const { runDemo } = await import('../demo/demo.js');
      await runDemo({ script: opts.script });
    });

  program.commands.forEach((command) => command.addHelpText('after', HELP_FOOTER));
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version')
        return 0;
      process.stderr.write(`healbot: ${error.message.replace(/^error: /, '')}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof HealbotError && error.userFacing) {
      process.stderr.write(`healbot: ${describeError(error)}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`healbot: internal error: ${redact(describeError(error))}\n`);
    return 1;
  }
}
