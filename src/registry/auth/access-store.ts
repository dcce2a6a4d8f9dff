/**
 * Who may do what in the registry: users (the registry's own, with bcrypt hashes), projects
 * (the first path component of repository names, public or private), project members with a
 * role, and robot accounts (Harbor's `robot$name`: a secret token with fixed per-project
 * permissions, for CI). Kept apart from the content metadata (`metadata/`): its own file, its own
 * schema, so that `wharf registry user|project|robot` can change it while a server runs.
 *
 * Roles, as Harbor's:
 *
 *   role         pull  push  delete  manage members
 *   guest         ✓
 *   developer     ✓     ✓
 *   maintainer    ✓     ✓     ✓
 *   admin         ✓     ✓     ✓       ✓
 *
 * A registry admin (`UserRecord.admin`) may do everything everywhere, and is the only one who
 * may use the admin API.
 *
 * @example
 * await store.createProject({ name: 'team', public: false });
 * await store.setMember('team', 'alice', 'developer');
 */

export type Action = 'pull' | 'push' | 'delete';
export const ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];

export type Role = 'admin' | 'maintainer' | 'developer' | 'guest';
export const ROLES: readonly Role[] = ['admin', 'maintainer', 'developer', 'guest'];

export const ROLE_ACTIONS: Record<Role, readonly Action[]> = {
  admin: ['pull', 'push', 'delete'],
  maintainer: ['pull', 'push', 'delete'],
  developer: ['pull', 'push'],
  guest: ['pull'],
};

/** Robot account user names carry this prefix (Harbor's form). */
export const ROBOT_PREFIX = 'robot$';

export interface UserRecord {
  name: string;
  /** bcrypt (`$2a$`, `$2b$`, `$2y$`). */
  passwordHash: string;
  admin: boolean;
  createdAt: Date;
}

export interface ProjectRecord {
  name: string;
  public: boolean;
  createdAt: Date;
}

export interface MemberRecord {
  project: string;
  user: string;
  role: Role;
}

export interface RobotPermission {
  project: string;
  actions: Action[];
}

export interface RobotRecord {
  /** Without the `robot$` prefix. */
  name: string;
  /** sha256 (hex) of the secret: the secret is 256 random bits, so a slow hash adds nothing. */
  secretHash: string;
  description?: string;
  permissions: RobotPermission[];
  createdAt: Date;
  expiresAt?: Date;
}

export interface AccessStore {
  /** Whether any account exists (users or robots): from then on, access control is enforced. */
  hasAccounts(): Promise<boolean>;

  getUser(name: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /** AlreadyExistsError when taken. */
  createUser(user: Omit<UserRecord, 'createdAt'>): Promise<void>;
  /** NotFoundError when unknown; the user's memberships go too. */
  deleteUser(name: string): Promise<void>;
  setPassword(name: string, passwordHash: string): Promise<void>;

  getProject(name: string): Promise<ProjectRecord | undefined>;
  listProjects(): Promise<ProjectRecord[]>;
  createProject(project: Omit<ProjectRecord, 'createdAt'>): Promise<void>;
  /** Creates the project (private) unless it exists; true when created. */
  ensureProject(name: string): Promise<boolean>;
  setProjectPublic(name: string, isPublic: boolean): Promise<void>;
  /** NotFoundError when unknown; members and robot permissions on it go too. */
  deleteProject(name: string): Promise<void>;
  /** Names of the public projects. */
  publicProjects(): Promise<string[]>;

  listMembers(project: string): Promise<MemberRecord[]>;
  /** Adds or changes a member's role (NotFoundError when the project is unknown). */
  setMember(project: string, user: string, role: Role): Promise<void>;
  removeMember(project: string, user: string): Promise<void>;
  /** The user's role in each project they belong to. */
  membershipsOf(user: string): Promise<MemberRecord[]>;

  getRobot(name: string): Promise<RobotRecord | undefined>;
  listRobots(): Promise<RobotRecord[]>;
  createRobot(robot: Omit<RobotRecord, 'createdAt'>): Promise<void>;
  deleteRobot(name: string): Promise<void>;

  close(): Promise<void>;
}
