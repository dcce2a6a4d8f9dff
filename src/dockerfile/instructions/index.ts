/**
 * The typed instruction layer: parse an AST into stages, expand instructions as they run, and
 * scope ARG/ENV values (see each module for BuildKit's rules it follows).
 *
 * @example
 * const ast = parseDockerfile(text, { file: 'Dockerfile' });
 * const { metaArgs, stages } = parseStages(ast);
 * const args = new BuildArgs(metaArgs, { buildArgs, automatic, lexer: new ShellLexer({ escapeToken: ast.escapeChar }) });
 */
export { ArgScope, automaticArgs, BuildArgs, type DeclaredArg, ScopeEnv } from './arg-scope.ts';
export { type ChmodSpec, parseChmod } from './chmod.ts';
export type * from './commands.ts';
export { type ExpandedCommand, type ExpandedFrom, expandCommand, expandFrom } from './expand-command.ts';
export { PortError, parseExposedPort, parseExposedPorts } from './expose-ports.ts';
export { parseInstruction } from './parse-instruction.ts';
export { type ParsedStages, parseStages } from './parse-stages.ts';
export { MountError, parseDevice, parseMount } from './run-mounts.ts';
