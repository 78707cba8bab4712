import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config';
import { applicationPackageStart, detectResourceAttributes, findApplicationPackage } from '../../src/resource/detectors';
import { Resource } from '../../src/resource/resource';
import { agentVersion } from '../../src/version';

const detect = (env: Record<string, string>) => detectResourceAttributes(readConfig(env).config);

describe('resource', () => {
  it('describes the SDK, the host, the OS and the process', () => {
    const attrs = detect({});
    expect(attrs['telemetry.sdk.name']).toBe('zerotel');
    expect(attrs['telemetry.sdk.language']).toBe('nodejs');
    expect(attrs['telemetry.sdk.version']).toBe(agentVersion());
    expect(attrs['host.name']).toBe(os.hostname());
    expect(attrs['host.arch']).toBe(process.arch === 'x64' ? 'amd64' : process.arch);
    expect(attrs['os.type']).toBe(process.platform === 'win32' ? 'windows' : process.platform);
    expect(attrs['process.pid']).toBe(process.pid);
    expect(attrs['process.runtime.name']).toBe('nodejs');
    expect(attrs['process.runtime.version']).toBe(process.versions.node);
    expect(attrs['process.executable.name']).toBe(path.basename(process.execPath));
    expect(attrs['process.command_args']).toBeUndefined();
    expect(detect({ OTEL_NODE_RESOURCE_PROCESS_COMMAND_ARGS: 'true' })['process.command_args']).toEqual(
      expect.arrayContaining([process.argv0]),
    );
  });

  it('service.name: OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES, else package.json, else unknown_service:<executable>', () => {
    expect(detect({ OTEL_SERVICE_NAME: 'a', OTEL_RESOURCE_ATTRIBUTES: 'service.name=b' })['service.name']).toBe('a');
    expect(detect({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=b' })['service.name']).toBe('b');
    expect(detect({ OTEL_NODE_RESOURCE_DETECTORS: 'env' })['service.name']).toBe('unknown_service:node');
  });

  it('with no name given, service.name is unknown_service: and the executable name (a renamed node too)', () => {
    const execPath = process.execPath;
    try {
      process.execPath = '/opt/runtimes/node20';
      const attrs = detect({ OTEL_NODE_RESOURCE_DETECTORS: 'env,process' });
      expect(attrs['service.name']).toBe('unknown_service:node20');
      expect(attrs['process.executable.name']).toBe('node20');
    } finally {
      process.execPath = execPath;
    }
  });

  it('OTEL_NODE_RESOURCE_DETECTORS chooses detectors; OTEL_RESOURCE_ATTRIBUTES is percent-decoded', () => {
    const attrs = detect({ OTEL_NODE_RESOURCE_DETECTORS: 'env', OTEL_RESOURCE_ATTRIBUTES: 'k=a%2Cb%3Dc,deployment.environment.name=test' });
    expect(attrs['host.name']).toBeUndefined();
    expect(attrs['process.pid']).toBeUndefined();
    expect(attrs['k']).toBe('a,b=c');
    expect(attrs['deployment.environment.name']).toBe('test');
    expect(detect({ OTEL_NODE_RESOURCE_DETECTORS: 'none', OTEL_RESOURCE_ATTRIBUTES: 'k=v' })['k']).toBeUndefined();
  });

  it('looks from the working directory when the main script is a tool\'s, inside node_modules (jest, vitest, pm2)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-tool-'));
    fs.mkdirSync(path.join(dir, 'node_modules', 'jest', 'bin'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'orders-service', version: '1.0.0' }));
    fs.writeFileSync(path.join(dir, 'node_modules', 'jest', 'package.json'), JSON.stringify({ name: 'jest', version: '30.0.0' }));
    const tool = path.join(dir, 'node_modules', 'jest', 'bin', 'jest.js');
    expect(findApplicationPackage(tool)).toEqual({ name: 'jest', version: '30.0.0' });
    expect(findApplicationPackage(applicationPackageStart(tool, dir))).toEqual({ name: 'orders-service', version: '1.0.0' });
    expect(findApplicationPackage(applicationPackageStart('node_modules/jest/bin/jest.js', dir))?.name).toBe('orders-service');
    // An application's own script is still the place to start.
    expect(applicationPackageStart(path.join(dir, 'src', 'main.js'), '/elsewhere')).toBe(path.join(dir, 'src', 'main.js'));
    expect(applicationPackageStart(undefined, dir)).toBeUndefined();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds the application package.json upwards from the main script', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-pkg-'));
    fs.mkdirSync(path.join(dir, 'src', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'my-service', version: '2.3.4' }));
    fs.writeFileSync(path.join(dir, 'src', 'deep', 'package.json'), JSON.stringify({ type: 'module' }));
    expect(findApplicationPackage(path.join(dir, 'src', 'deep', 'main.js'))).toEqual({ name: 'my-service', version: '2.3.4' });
    expect(findApplicationPackage(undefined)).toBeUndefined();
  });

  it('detects lazily, once', () => {
    let calls = 0;
    const r = new Resource(() => {
      calls++;
      return { a: 1 };
    });
    expect(calls).toBe(0);
    expect(r.attributes).toEqual({ a: 1 });
    expect(r.attributes).toEqual({ a: 1 });
    expect(calls).toBe(1);
  });
});
