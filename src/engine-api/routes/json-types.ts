/**
 * JSON as the routes pass it through. Backends answer with Docker's shapes (their owners type
 * them precisely: src/image/docker-shapes.ts, the container service's types); the routes only
 * serialize, so the seams between them take plain JSON objects.
 */
export type JsonObject = Record<string, unknown>;

/** Docker's `filters` query parameter, decoded: key -> values. */
export type Filters = Record<string, string[]>;
