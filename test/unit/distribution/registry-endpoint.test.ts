import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  credentialKey,
  domainOfKey,
  isInsecureDomain,
  isLoopbackDomain,
  resolveEndpoint,
} from '../../../src/distribution/registry-endpoint.ts';

describe('registry endpoints', () => {
  it('maps docker.io to registry-1.docker.io over HTTPS, as Docker does', () => {
    assert.deepEqual(resolveEndpoint('docker.io'), {
      domain: 'docker.io',
      host: 'registry-1.docker.io',
      scheme: 'https',
      baseUrl: 'https://registry-1.docker.io',
    });
    assert.equal(resolveEndpoint('index.docker.io').host, 'registry-1.docker.io');
    assert.equal(resolveEndpoint('registry.example.com:5000').baseUrl, 'https://registry.example.com:5000');
  });

  it('speaks plain HTTP to loopback registries and to those listed insecure', () => {
    for (const domain of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.1.2.3', '[::1]:5000']) {
      assert.equal(isLoopbackDomain(domain), true, domain);
      assert.equal(resolveEndpoint(domain).scheme, 'http', domain);
    }
    assert.equal(isLoopbackDomain('128.0.0.1'), false);
    assert.equal(isLoopbackDomain('localhost.example.com'), false);
    const insecure = ['myreg:5000', '10.0.0.0/8', 'http://other.example/'];
    assert.equal(resolveEndpoint('myreg:5000', { insecureRegistries: insecure }).scheme, 'http');
    assert.equal(resolveEndpoint('myreg:5001', { insecureRegistries: insecure }).scheme, 'https');
    assert.equal(isInsecureDomain('10.1.2.3:5000', insecure), true);
    assert.equal(isInsecureDomain('11.1.2.3:5000', insecure), false);
    assert.equal(isInsecureDomain('other.example', insecure), true);
  });

  it("names credentials as Docker's config.json does", () => {
    assert.equal(credentialKey('docker.io'), 'https://index.docker.io/v1/');
    assert.equal(credentialKey('localhost:5000'), 'localhost:5000');
    assert.equal(domainOfKey('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(domainOfKey('http://localhost:5000/v2/'), 'localhost:5000');
    assert.equal(domainOfKey('registry.example.com'), 'registry.example.com');
  });
});
