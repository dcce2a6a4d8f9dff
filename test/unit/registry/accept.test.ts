import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptsMediaType } from '../../../src/registry/http/accept.ts';

const OCI = 'application/vnd.oci.image.manifest.v1+json';

describe('acceptsMediaType', () => {
  it('admits everything without an Accept header, or with an empty one', () => {
    assert.equal(acceptsMediaType(undefined, OCI), true);
    assert.equal(acceptsMediaType('', OCI), true);
  });
  it('matches exact types across several headers and comma lists, ignoring parameters', () => {
    assert.equal(acceptsMediaType(['application/json', `${OCI}; q=0.9`], OCI), true);
    assert.equal(acceptsMediaType('application/vnd.docker.distribution.manifest.v2+json', OCI), false);
    assert.equal(acceptsMediaType('APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON', OCI), true);
  });
  it('honours wildcards and q=0 refusals', () => {
    assert.equal(acceptsMediaType('*/*', OCI), true);
    assert.equal(acceptsMediaType('application/*', OCI), true);
    assert.equal(acceptsMediaType(`${OCI};q=0`, OCI), false);
    assert.equal(acceptsMediaType(`*/*;q=0.0`, OCI), false);
  });
});
