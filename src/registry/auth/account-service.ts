/**
 * The account operations the admin API and the `wharf registry user|project|robot` commands
 * share: names checked, passwords hashed, robot secrets made (shown once, stored hashed), and a
 * project removed only when it holds no repository (as Harbor refuses to delete a non-empty one).
 *
 * @example
 * const accounts = new AccountService(store, metadata);
 * await accounts.addUser('alice', 's3cret', { admin: false });
 * const { name, secret } = await accounts.createRobot('ci', [{ project: 'team', actions: ['pull', 'push'] }]);
 */
import { ConflictError, InvalidArgumentError } from '../../errors/index.ts';
import type { Page } from '../metadata/metadata-store.ts';
import { isValidProjectName } from '../project-name.ts';
import {
  ACTIONS,
  type AccessStore,
  type Action,
  type MemberRecord,
  type ProjectRecord,
  ROBOT_PREFIX,
  ROLES,
  type RobotPermission,
  type RobotRecord,
  type Role,
  type UserRecord,
} from './access-store.ts';
import { checkRobotName, checkUserName, hashPassword, newRobotSecret } from './credentials.ts';

/** What the account service needs of the content metadata: whether a project still holds repositories. */
export interface RepositoryLister {
  listRepositories(page?: Page & { projects?: readonly string[] }): Promise<string[]>;
}

export interface UserView {
  name: string;
  admin: boolean;
  createdAt: string;
}

export interface RobotView {
  name: string;
  description?: string;
  permissions: RobotPermission[];
  createdAt: string;
  expiresAt?: string;
}

export class AccountService {
  readonly #store: AccessStore;
  readonly #repositories: RepositoryLister | undefined;

  constructor(store: AccessStore, repositories?: RepositoryLister) {
    this.#store = store;
    this.#repositories = repositories;
  }

  async addUser(name: string, password: string, options: { admin?: boolean } = {}): Promise<void> {
    checkUserName(name);
    await this.#store.createUser({
      name,
      passwordHash: await hashPassword(password),
      admin: options.admin ?? false,
    });
  }

  async removeUser(name: string): Promise<void> {
    await this.#store.deleteUser(name);
  }

  async setPassword(name: string, password: string): Promise<void> {
    await this.#store.setPassword(name, await hashPassword(password));
  }

  async listUsers(): Promise<UserView[]> {
    return (await this.#store.listUsers()).map((user: UserRecord) => ({
      name: user.name,
      admin: user.admin,
      createdAt: user.createdAt.toISOString(),
    }));
  }

  async createProject(name: string, options: { public?: boolean } = {}): Promise<void> {
    checkProjectName(name);
    await this.#store.createProject({ name, public: options.public ?? false });
  }

  async setProjectPublic(name: string, isPublic: boolean): Promise<void> {
    await this.#store.setProjectPublic(name, isPublic);
  }

  async removeProject(name: string): Promise<void> {
    const held = (await this.#repositories?.listRepositories({ projects: [name], limit: 1 })) ?? [];
    if (held.length > 0) {
      throw new ConflictError(
        `Cannot remove project ${name}: it still holds repositories (${held[0]}…); delete their manifests first`,
      );
    }
    await this.#store.deleteProject(name);
  }

  async listProjects(): Promise<Array<{ name: string; public: boolean; createdAt: string }>> {
    return (await this.#store.listProjects()).map((project: ProjectRecord) => ({
      name: project.name,
      public: project.public,
      createdAt: project.createdAt.toISOString(),
    }));
  }

  async setMember(project: string, user: string, role: string): Promise<void> {
    await this.#store.setMember(project, checkMemberName(user), checkRole(role));
  }

  async removeMember(project: string, user: string): Promise<void> {
    await this.#store.removeMember(project, user);
  }

  async listMembers(project: string): Promise<MemberRecord[]> {
    if (!(await this.#store.getProject(project))) {
      throw new InvalidArgumentError(`Cannot list members of ${project}: no such project`);
    }
    return this.#store.listMembers(project);
  }

  /** Creates a robot account; its secret is returned once and never stored. */
  async createRobot(
    name: string,
    permissions: RobotPermission[],
    options: { description?: string; expiresInMs?: number } = {},
  ): Promise<{ name: string; secret: string }> {
    const bare = checkRobotName(name);
    if (permissions.length === 0) {
      throw new InvalidArgumentError(`Cannot create robot account ${name}: give it at least one project`);
    }
    for (const permission of permissions) {
      checkProjectName(permission.project);
      if (permission.actions.length === 0) {
        throw new InvalidArgumentError(
          `Cannot create robot account ${name}: no actions on ${permission.project}`,
        );
      }
      for (const action of permission.actions) checkAction(action);
    }
    const { secret, hash } = newRobotSecret();
    const robot: Omit<RobotRecord, 'createdAt'> = { name: bare, secretHash: hash, permissions };
    if (options.description !== undefined) robot.description = options.description;
    if (options.expiresInMs !== undefined && options.expiresInMs > 0) {
      robot.expiresAt = new Date(Date.now() + options.expiresInMs);
    }
    await this.#store.createRobot(robot);
    return { name: `${ROBOT_PREFIX}${bare}`, secret };
  }

  async removeRobot(name: string): Promise<void> {
    await this.#store.deleteRobot(checkRobotName(name));
  }

  async listRobots(): Promise<RobotView[]> {
    return (await this.#store.listRobots()).map((robot) => {
      const view: RobotView = {
        name: `${ROBOT_PREFIX}${robot.name}`,
        permissions: robot.permissions,
        createdAt: robot.createdAt.toISOString(),
      };
      if (robot.description !== undefined) view.description = robot.description;
      if (robot.expiresAt !== undefined) view.expiresAt = robot.expiresAt.toISOString();
      return view;
    });
  }
}

export function checkProjectName(name: string): string {
  if (!isValidProjectName(name)) {
    throw new InvalidArgumentError(
      `Cannot use project name "${name}": it must be one repository path component (lowercase letters, digits, '.', '_', '-')`,
    );
  }
  return name;
}

export function checkRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new InvalidArgumentError(`Cannot use role "${role}": expected one of ${ROLES.join(', ')}`);
  }
  return role as Role;
}

export function checkAction(action: string): Action {
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw new InvalidArgumentError(`Cannot use action "${action}": expected one of ${ACTIONS.join(', ')}`);
  }
  return action as Action;
}

/** A member is a user of the table or of the htpasswd file: any valid user name, robots excluded. */
function checkMemberName(name: string): string {
  if (name.startsWith(ROBOT_PREFIX)) {
    throw new InvalidArgumentError(
      `Cannot add ${name} as a member: robot accounts have their own permissions`,
    );
  }
  return checkUserName(name);
}
