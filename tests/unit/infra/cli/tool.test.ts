/**
 * The deploy command's choices that need no Docker: which deploy tool runs (checked on PATH, never
 * assumed), the environment it gets, and where a deployment's files live.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chooseDeployTool, toolEnv } from '../../../../infra/cli/tool.js';
import { outputsFile, stackDir, synthOutdir } from '../../../../infra/paths.js';
import { findOnPath } from '../../../../infra/cli/run.js';
import { repoRoot } from '../../../support/paths.js';
import { rollSteps, type SwarmTask } from '../../../../infra/rolling/swarm-roll.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A directory holding executables with these names (and nothing else on PATH). */
function pathWith(...names: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsfsw-path-'));
  dirs.push(dir);
  for (const n of names) fs.writeFileSync(path.join(dir, n), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  return dir;
}

describe('deploy command: the deploy tool', () => {
  it('terraform when it is on PATH, else tofu, else an error naming both', () => {
    assert.deepEqual(chooseDeployTool({ PATH: pathWith('terraform', 'tofu') }), { tool: 'terraform', binary: 'terraform' });
    assert.deepEqual(chooseDeployTool({ PATH: pathWith('tofu') }), { tool: 'tofu', binary: 'tofu' });
    assert.throws(() => chooseDeployTool({ PATH: pathWith() }), /neither 'terraform' nor 'tofu' is on PATH/);
  });

  it('WSFLEET_DEPLOY_TOOL picks one, and fails when that one is missing', () => {
    assert.deepEqual(chooseDeployTool({ PATH: pathWith('terraform', 'tofu'), WSFLEET_DEPLOY_TOOL: 'tofu' }), { tool: 'tofu', binary: 'tofu' });
    assert.throws(() => chooseDeployTool({ PATH: pathWith('terraform'), WSFLEET_DEPLOY_TOOL: 'tofu' }), /WSFLEET_DEPLOY_TOOL=tofu but 'tofu' is not on PATH/);
    // cdktf runs the Terraform-compatible binary on PATH; node_modules/.bin (always on the tool PATH) holds cdktf.
    assert.deepEqual(chooseDeployTool({ PATH: pathWith('tofu'), WSFLEET_DEPLOY_TOOL: 'cdktf' }), { tool: 'cdktf', binary: 'tofu' });
    assert.throws(() => chooseDeployTool({ PATH: pathWith('terraform'), WSFLEET_DEPLOY_TOOL: 'pulumi' }), /invalid WSFLEET_DEPLOY_TOOL="pulumi"/);
    assert.throws(() => chooseDeployTool({ PATH: pathWith('terraform'), WSFLEET_DEPLOY_ENGINE: 'terraform' }), /renamed WSFLEET_DEPLOY_TOOL/);
  });

  it('the tool gets the provider mirror, no update checks, and TERRAFORM_BINARY_NAME=tofu only for tofu', () => {
    const env = toolEnv({ tool: 'cdktf', binary: 'tofu' }, { PATH: '/usr/bin' });
    assert.equal(env['TF_CLI_CONFIG_FILE'], path.join(repoRoot, '.ws-fleet', 'terraform', 'terraformrc'));
    assert.equal(env['CHECKPOINT_DISABLE'], '1');
    assert.equal(env['TERRAFORM_BINARY_NAME'], 'tofu');
    assert.equal(toolEnv({ tool: 'terraform', binary: 'terraform' }, { PATH: '/usr/bin' })['TERRAFORM_BINARY_NAME'], undefined);
    const dirsOnPath = (env['PATH'] ?? '').split(':');
    assert.equal(dirsOnPath[0], path.join(repoRoot, '.ws-fleet', 'bin'));
    assert.ok(dirsOnPath.includes('/usr/sbin'), 'haproxy lives in /usr/sbin on Debian');
  });

  it('findOnPath only finds executable files', () => {
    const dir = pathWith('terraform');
    fs.writeFileSync(path.join(dir, 'tofu'), 'not executable', { mode: 0o644 });
    assert.equal(findOnPath('terraform', dir), path.join(dir, 'terraform'));
    assert.equal(findOnPath('tofu', dir), undefined);
  });
});

describe('deploy command: the state layout', () => {
  it('the default deployment synthesizes into cdktf.out, others under .ws-fleet/cdktf/<prefix>', () => {
    assert.equal(synthOutdir('wsfleet', {}), path.join(repoRoot, 'cdktf.out'));
    assert.equal(synthOutdir('wsf-swarm-e2e', {}), path.join(repoRoot, '.ws-fleet', 'cdktf', 'wsf-swarm-e2e'));
    assert.equal(synthOutdir('x1', { WSFLEET_CDKTF_OUT: '/tmp/out' }), '/tmp/out');
    assert.equal(stackDir('x1', {}), path.join(repoRoot, '.ws-fleet', 'cdktf', 'x1', 'stacks', 'x1'));
    assert.equal(outputsFile('x1'), path.join(repoRoot, '.ws-fleet', 'outputs', 'x1.json'));
  });
});

describe('rolling deploy on swarm: the steps read from the task history', () => {
  const OLD = 'p-server:aaaaaaaaaaaa';
  const NEW = 'p-server:bbbbbbbbbbbb';
  const task = (id: string, slot: number, image: string, desired: string, state: string, createdAt: number, stateAt: number): SwarmTask => ({ id, slot, image, desired, state, createdAt, stateAt });
  const before = [task('o1', 1, OLD, 'running', 'running', 0, 10), task('o2', 2, OLD, 'running', 'running', 0, 10)];

  it('one step per replaced slot, in the order Swarm created the successors; a digest suffix is ignored', () => {
    const after = [
      task('o1', 1, OLD, 'shutdown', 'shutdown', 0, 130),
      task('n1', 1, `${NEW}@sha256:${'c'.repeat(64)}`, 'running', 'running', 125, 150),
      task('o2', 2, OLD, 'shutdown', 'shutdown', 0, 105),
      task('n2', 2, NEW, 'running', 'running', 100, 120),
    ];
    assert.deepEqual(rollSteps(before, after, NEW), [
      { replica: 2, from: OLD, oldStoppedAt: 105, newCreatedAt: 100, newRunningAt: 120 },
      { replica: 1, from: OLD, oldStoppedAt: 130, newCreatedAt: 125, newRunningAt: 150 },
    ]);
  });

  it('a slot the first snapshot missed (its task between states) is a step all the same, from the task history', () => {
    const after = [
      task('o1', 1, OLD, 'shutdown', 'shutdown', 0, 130),
      task('n1', 1, NEW, 'running', 'running', 125, 150),
      task('o2', 2, OLD, 'shutdown', 'shutdown', 0, 105),
      task('n2', 2, NEW, 'running', 'running', 100, 120),
      task('o3', 3, OLD, 'shutdown', 'shutdown', 0, 160),
      task('n3', 3, NEW, 'running', 'running', 155, 170),
    ];
    assert.deepEqual(rollSteps(before, after, NEW, 50).map((s) => [s.replica, s.oldStoppedAt, s.newRunningAt]), [[2, 105, 120], [1, 130, 150], [3, 160, 170]]);
    // Tasks of an earlier roll (created before this one began) are no step of this one.
    assert.deepEqual(rollSteps(after, after, NEW, 200), []);
  });

  it('slots already on the new build are no step; a slot left without a running successor is an error', () => {
    const onNew = [task('n1', 1, NEW, 'running', 'running', 0, 10)];
    assert.deepEqual(rollSteps(onNew, onNew, NEW), []);
    assert.throws(() => rollSteps(before, [task('n2', 2, NEW, 'running', 'running', 100, 120)], NEW), /slot 1 has no running task on p-server:bbbbbbbbbbbb/);
  });
});
