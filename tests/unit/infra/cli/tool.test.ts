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
