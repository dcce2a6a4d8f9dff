// The layering of ../shared/ARCHITECTURE.md, enforced: imports only go downward.
// Each rule names a layer and the layers it must never import.
const layer = (name) => `^src/${name}/`;
const forbid = (name, from, targets, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: targets },
});
const leaves = ['oci', 'errors', 'util'];
const storage = ['snapshot', 'content', 'metadata', 'runtime'];
const services = ['build', 'container', 'image', 'distribution'];
const any = (names) => `^src/(${names.join('|')})/`;
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    forbid('leaves-stay-leaves', any(leaves), any([...storage, ...services, 'scan', 'engine', 'engine-api', 'cli', 'daemon', 'dockerfile', 'registry']), 'oci, errors and util import nothing above them'),
    forbid('scan-is-pure', layer('scan'), any([...storage, ...services, 'engine', 'engine-api', 'cli', 'daemon', 'dockerfile', 'registry']), 'vulnerability matching imports only oci, errors, util (anything above the leaves may import it)'),
    forbid('oci-has-no-io', layer('oci'), '^(fs|node:fs|child_process|node:child_process|net|node:net|http|node:http)$', 'the OCI model is pure'),
    forbid('dockerfile-is-pure', layer('dockerfile'), any([...storage, ...services, 'engine', 'engine-api', 'cli', 'daemon', 'registry']), 'the Dockerfile front end knows nothing of stores'),
    forbid('storage-below-services', any(storage), any([...services, 'engine', 'engine-api', 'cli', 'daemon', 'registry', 'dockerfile']), 'stores and runtime import only oci, errors, util'),
    forbid('services-below-engine', any(services), any(['engine', 'engine-api', 'cli', 'daemon', 'registry']), 'services never import the engine or front doors'),
    forbid('only-build-and-engine-parse-dockerfiles', any(['snapshot', 'content', 'metadata', 'runtime', 'container', 'image', 'distribution', 'registry', 'engine-api', 'cli', 'daemon']), layer('dockerfile'), 'only build and engine import dockerfile'),
    forbid('registry-is-independent', layer('registry'), any([...storage, ...services, 'engine', 'engine-api', 'cli', 'daemon', 'dockerfile']), 'the registry server imports only oci, errors, util'),
    forbid('engine-below-front-doors', layer('engine'), any(['engine-api', 'cli', 'daemon']), 'the engine never imports its front doors'),
    forbid('nothing-imports-cli-or-daemon', '^src/(?!cli/|daemon/)', any(['cli', 'daemon']), 'cli and daemon are the top'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    parser: 'swc',
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
