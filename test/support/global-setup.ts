/**
 * vitest globalSetup: one dockerd for the whole run. It only names the directory
 * (`inject('healbotDockerEngine')`, read by ./docker-engine.ts): the first test file that needs
 * Docker launches the daemon there and the others share it, so runs that never touch Docker pay
 * nothing. The teardown stops it and removes every trace (processes, cgroups, mounts, files).
 * Set HEALBOT_TEST_DOCKERD=off to do without (Docker tests then skip, or fail under CI=true).
 */
import type { TestProject } from 'vitest/node';
import {
  cleanLeftoverDockerds,
  dockerdUnavailable,
  engineDirectory,
  stopDockerdIn,
  type SharedDockerEngine,
} from './docker-engine.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = engineDirectory();
  const unavailable =
    process.env.HEALBOT_TEST_DOCKERD === 'off'
      ? 'HEALBOT_TEST_DOCKERD=off: no dockerd for this run'
      : dockerdUnavailable();
  const shared: SharedDockerEngine = unavailable ? { unavailable } : { dir };
  if (!unavailable) {
    await cleanLeftoverDockerds();
    // A directory named after this pid can only be a dead process's whose pid was reused.
    await stopDockerdIn(dir);
  }
  project.provide('healbotDockerEngine', shared);
  return async () => {
    if (!unavailable) await stopDockerdIn(dir);
  };
}
