/**
 * Projects, as Harbor has them: the first path component of a repository name owns it
 * (`team/app/api` belongs to project `team`). A name without a slash is its own project (`alpine`
 * belongs to project `alpine`), so every repository has exactly one project and access rules
 * never need a default.
 *
 * @example
 * projectOf('team/app/api'); // 'team'
 * projectOf('alpine');       // 'alpine'
 */
export function projectOf(repository: string): string {
  const slash = repository.indexOf('/');
  return slash < 0 ? repository : repository.slice(0, slash);
}

/** Project names follow the grammar of one repository path component. */
const PROJECT_NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;

export function isValidProjectName(name: string): boolean {
  return name.length <= 255 && PROJECT_NAME.test(name);
}
