import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAddress, parseRegistryConfig } from '../../../src/registry/config.ts';

describe('registry config', () => {
  it('parses HOST:PORT, IPv6 in brackets, and an empty host as all interfaces', () => {
    assert.deepEqual(parseAddress('127.0.0.1:5000'), { host: '127.0.0.1', port: 5000 });
    assert.deepEqual(parseAddress('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseAddress(':5001'), { host: '0.0.0.0', port: 5001 });
    assert.throws(() => parseAddress('5000'), /Cannot parse address/);
    assert.throws(() => parseAddress('h:70000'), /Cannot parse address/);
  });
  it('reads the JSON file and names the bad field', () => {
    assert.deepEqual(parseRegistryConfig('{"addr":"0.0.0.0:5000","log":{"level":"warn"}}', 'f.json'), {
      addr: '0.0.0.0:5000',
      log: { level: 'warn' },
    });
    assert.throws(() => parseRegistryConfig('{"log":{"level":"loud"}}', 'f.json'), /f\.json: log\.level/);
    assert.throws(() => parseRegistryConfig('{"unknown":1}', 'f.json'), /f\.json/);
    assert.throws(() => parseRegistryConfig('{', 'f.json'), /Cannot read registry config f\.json/);
  });
  it('reads the scan settings, the severity in any case, and refuses unknown ones', () => {
    assert.deepEqual(
      parseRegistryConfig(
        '{"scan":{"db":"/v","onPush":true,"preventVulnerable":{"severity":"high"}}}',
        'f.json',
      ),
      { scan: { db: '/v', onPush: true, preventVulnerable: { severity: 'HIGH' } } },
    );
    assert.throws(
      () => parseRegistryConfig('{"scan":{"preventVulnerable":{"severity":"severe"}}}', 'f.json'),
      /f\.json: scan\.preventVulnerable\.severity/,
    );
    assert.throws(() => parseRegistryConfig('{"scan":{"db":""}}', 'f.json'), /f\.json: scan\.db/);
    assert.throws(() => parseRegistryConfig('{"scan":{"onPush":"yes"}}', 'f.json'), /f\.json: scan\.onPush/);
    assert.throws(() => parseRegistryConfig('{"scan":{"other":1}}', 'f.json'), /f\.json: scan/);
  });
});
