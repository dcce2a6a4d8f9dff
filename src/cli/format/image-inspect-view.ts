/**
 * `image inspect -f` runs the template first on Docker's typed `image.InspectResponse` and only
 * when that fails on the raw JSON (see inspect-writer.ts). This builds the typed value from the
 * JSON: structs whose unknown fields are errors, nil slices that print `[]`, nil maps that
 * print `map[]`, times that print as Go prints them, and `omitempty` fields that `{{json .}}`
 * leaves out, as Docker 28 does (its image `Config` is the OCI image config, so `{{json
 * .Config}}` shows only the fields that are set).
 */
import { goJson } from './go-json.ts';
import { GO_MARSHAL_JSON, GoDuration, GoNil, GoTime, goStruct, NIL_MAP } from './go-value.ts';

type Json = Record<string, unknown>;

const nilSlice = () => new GoNil('slice', '[]string', true);
const nilMap = () => new GoNil('map', 'map[string]string', true);
const nilPtr = (typeName: string) => new GoNil('ptr', typeName, true);

function isEmpty(value: unknown): boolean {
  if (value === '' || value === false || value === 0 || value === null || value === undefined) return true;
  if (value instanceof GoNil) return true;
  if (value instanceof GoDuration) return value.nanoseconds === 0;
  if (Array.isArray(value)) return value.length === 0;
  return false;
}

/** A Go struct whose JSON drops the `omitEmpty` fields when they hold their zero value. */
function typedStruct<T extends Json>(typeName: string, fields: T, omitEmpty: ReadonlySet<string> | 'all'): T {
  const struct = goStruct(typeName, fields);
  Object.defineProperty(struct, GO_MARSHAL_JSON, {
    enumerable: false,
    value: () => {
      const kept: Json = {};
      for (const [key, value] of Object.entries(fields)) {
        const omittable = omitEmpty === 'all' || omitEmpty.has(key);
        if (omittable && isEmpty(value)) continue;
        kept[key] = value;
      }
      return goJson(kept);
    },
  });
  return struct;
}

const asString = (value: unknown): string => (typeof value === 'string' ? value : '');
const asNumber = (value: unknown): number => (typeof value === 'number' ? value : 0);
const asSlice = (value: unknown): unknown => (Array.isArray(value) ? value : nilSlice());
const asMap = (value: unknown): unknown =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? value : nilMap();
/** `map[string]struct{}` (exposed ports, volumes): each value prints `{}`. */
const asSet = (value: unknown): unknown => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return nilMap();
  return Object.fromEntries(Object.keys(value).map((key) => [key, goStruct('struct {}', {})]));
};

/** Docker's `HealthcheckConfig`: durations print as Go does (`30s`), JSON keeps nanoseconds. */
function healthcheck(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return nilPtr('*v1.HealthcheckConfig');
  const h = value as Json;
  return typedStruct(
    '*v1.HealthcheckConfig',
    {
      Test: asSlice(h.Test),
      Interval: new GoDuration(asNumber(h.Interval)),
      Timeout: new GoDuration(asNumber(h.Timeout)),
      StartPeriod: new GoDuration(asNumber(h.StartPeriod)),
      StartInterval: new GoDuration(asNumber(h.StartInterval)),
      Retries: asNumber(h.Retries),
    },
    'all',
  );
}

function imageConfig(config: unknown): unknown {
  if (config === null || typeof config !== 'object') return nilPtr('*v1.DockerOCIImageConfig');
  const c = config as Json;
  return typedStruct(
    '*v1.DockerOCIImageConfig',
    {
      User: asString(c.User),
      ExposedPorts: asSet(c.ExposedPorts),
      Env: asSlice(c.Env),
      Entrypoint: asSlice(c.Entrypoint),
      Cmd: asSlice(c.Cmd),
      Volumes: asSet(c.Volumes),
      WorkingDir: asString(c.WorkingDir),
      Labels: asMap(c.Labels),
      StopSignal: asString(c.StopSignal),
      ArgsEscaped: c.ArgsEscaped === true,
      Healthcheck: healthcheck(c.Healthcheck),
      OnBuild: asSlice(c.OnBuild),
      Shell: asSlice(c.Shell),
    },
    'all',
  );
}

function time(value: unknown): unknown {
  try {
    return new GoTime(typeof value === 'string' ? value : '0001-01-01T00:00:00Z');
  } catch {
    return value;
  }
}

/**
 * The typed view of an `image inspect` JSON object.
 *
 * @example
 * parseDockerTemplate('{{.Config.Entrypoint}}').execute(imageInspectView(inspect)); // '[]'
 */
export function imageInspectView(raw: Json): unknown {
  const graphDriver = (raw.GraphDriver ?? {}) as Json;
  const rootFS = (raw.RootFS ?? {}) as Json;
  const metadata = (raw.Metadata ?? {}) as Json;
  return typedStruct(
    'image.InspectResponse',
    {
      Id: asString(raw.Id),
      RepoTags: asSlice(raw.RepoTags),
      RepoDigests: asSlice(raw.RepoDigests),
      Parent: asString(raw.Parent),
      Comment: asString(raw.Comment),
      Created: asString(raw.Created),
      Container: asString(raw.Container),
      ContainerConfig: raw.ContainerConfig ?? nilPtr('*container.Config'),
      DockerVersion: asString(raw.DockerVersion),
      Author: asString(raw.Author),
      Config: imageConfig(raw.Config),
      Architecture: asString(raw.Architecture),
      Variant: asString(raw.Variant),
      Os: asString(raw.Os),
      OsVersion: asString(raw.OsVersion),
      Size: asNumber(raw.Size),
      VirtualSize: asNumber(raw.VirtualSize),
      GraphDriver: goStruct('storage.DriverData', {
        Data: graphDriver.Data && typeof graphDriver.Data === 'object' ? graphDriver.Data : NIL_MAP,
        Name: asString(graphDriver.Name),
      }),
      RootFS: typedStruct(
        'image.RootFS',
        { Type: asString(rootFS.Type), Layers: asSlice(rootFS.Layers) },
        'all',
      ),
      Metadata: goStruct('image.Metadata', { LastTagTime: time(metadata.LastTagTime) }),
      Descriptor: raw.Descriptor ?? nilPtr('*v1.Descriptor'),
      Manifests: asSlice(raw.Manifests),
    },
    new Set([
      'Created',
      'Container',
      'ContainerConfig',
      'Variant',
      'OsVersion',
      'VirtualSize',
      'Descriptor',
      'Manifests',
    ]),
  );
}
