/**
 * The AccessStore on SQLite, in `<storage>/access.db`: the server and the `wharf registry
 * user|project|robot` commands open it at once (WAL, `busy_timeout`, `BEGIN IMMEDIATE` for every
 * write), so accounts can be managed while the registry serves; the server reads it on each
 * request (a few indexed lookups), so changes apply at the next request.
 *
 * Schema (user_version 1):
 *
 *   users                 name PK, password_hash (bcrypt), admin 0|1, created_at, updated_at
 *   projects ──┬─< members            (project, username) PK, role, created_at
 *     name PK   │                     username: a user of the table or of the htpasswd file
 *     public    └─< robot_permissions (robot, project) PK, actions ('pull,push')
 *     created_at          │
 *   robots ───────────────┘           name PK (without robot$), secret_hash (sha256), description,
 *                                     created_at, expires_at NULL
 *
 * @example
 * const store = SqliteAccessStore.open('/var/lib/wharf/registry/access.db');
 */
import type Database from 'better-sqlite3';
import { AlreadyExistsError, NotFoundError } from '../../errors/index.ts';
import { openSharedSqlite } from '../../util/sqlite-wal.ts';
import type {
  AccessStore,
  Action,
  MemberRecord,
  ProjectRecord,
  RobotRecord,
  Role,
  UserRecord,
} from './access-store.ts';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  admin INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS projects (
  name TEXT PRIMARY KEY,
  public INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (
  project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
  username TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'maintainer', 'developer', 'guest')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (project, username)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_username ON members(username);
CREATE TABLE IF NOT EXISTS robots (
  name TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  description TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS robot_permissions (
  robot TEXT NOT NULL REFERENCES robots(name) ON DELETE CASCADE,
  project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
  actions TEXT NOT NULL,
  PRIMARY KEY (robot, project)
) WITHOUT ROWID;
`;

type Statement = Database.Statement<unknown[], unknown>;

interface UserRow {
  name: string;
  password_hash: string;
  admin: number;
  created_at: number;
}

interface RobotRow {
  name: string;
  secret_hash: string;
  description: string | null;
  created_at: number;
  expires_at: number | null;
}

export class SqliteAccessStore implements AccessStore {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Statement>();

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  static open(path: string): SqliteAccessStore {
    const db = openSharedSqlite(path, { busyTimeoutMs: 5000, synchronous: 'FULL' });
    try {
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new Error(
          `Cannot open registry access database ${path}: schema version ${version} is newer than this Wharf (${SCHEMA_VERSION})`,
        );
      }
      if (version < SCHEMA_VERSION) {
        db.transaction(() => {
          db.exec(SCHEMA);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        }).immediate();
      }
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteAccessStore(db);
  }

  #prepare(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #write<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  async hasAccounts(): Promise<boolean> {
    return (
      this.#prepare('SELECT 1 FROM users LIMIT 1').get() !== undefined ||
      this.#prepare('SELECT 1 FROM robots LIMIT 1').get() !== undefined
    );
  }

  // --- users -----------------------------------------------------------------------------------

  async getUser(name: string): Promise<UserRecord | undefined> {
    const row = this.#prepare('SELECT name, password_hash, admin, created_at FROM users WHERE name = ?').get(
      name,
    ) as UserRow | undefined;
    return row ? userFromRow(row) : undefined;
  }

  async listUsers(): Promise<UserRecord[]> {
    const rows = this.#prepare(
      'SELECT name, password_hash, admin, created_at FROM users ORDER BY name',
    ).all() as UserRow[];
    return rows.map(userFromRow);
  }

  async createUser(user: Omit<UserRecord, 'createdAt'>): Promise<void> {
    const now = Date.now();
    this.#write(() => {
      const result = this.#prepare(
        'INSERT OR IGNORE INTO users (name, password_hash, admin, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
      ).run(user.name, user.passwordHash, user.admin ? 1 : 0, now, now);
      if (result.changes === 0) {
        throw new AlreadyExistsError(`Cannot add user ${user.name}: the user already exists`);
      }
    });
  }

  async deleteUser(name: string): Promise<void> {
    this.#write(() => {
      if (this.#prepare('DELETE FROM users WHERE name = ?').run(name).changes === 0) {
        throw new NotFoundError(`Cannot remove user ${name}: no such user`);
      }
      this.#prepare('DELETE FROM members WHERE username = ?').run(name);
    });
  }

  async setPassword(name: string, passwordHash: string): Promise<void> {
    this.#write(() => {
      const result = this.#prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?').run(
        passwordHash,
        Date.now(),
        name,
      );
      if (result.changes === 0)
        throw new NotFoundError(`Cannot change the password of ${name}: no such user`);
    });
  }

  // --- projects --------------------------------------------------------------------------------

  async getProject(name: string): Promise<ProjectRecord | undefined> {
    const row = this.#prepare('SELECT name, public, created_at FROM projects WHERE name = ?').get(name) as
      | { name: string; public: number; created_at: number }
      | undefined;
    return row
      ? { name: row.name, public: row.public === 1, createdAt: new Date(row.created_at) }
      : undefined;
  }

  async listProjects(): Promise<ProjectRecord[]> {
    const rows = this.#prepare('SELECT name, public, created_at FROM projects ORDER BY name').all() as Array<{
      name: string;
      public: number;
      created_at: number;
    }>;
    return rows.map((row) => ({
      name: row.name,
      public: row.public === 1,
      createdAt: new Date(row.created_at),
    }));
  }

  async createProject(project: Omit<ProjectRecord, 'createdAt'>): Promise<void> {
    this.#write(() => {
      const result = this.#prepare(
        'INSERT OR IGNORE INTO projects (name, public, created_at) VALUES (?, ?, ?)',
      ).run(project.name, project.public ? 1 : 0, Date.now());
      if (result.changes === 0) {
        throw new AlreadyExistsError(`Cannot create project ${project.name}: the project already exists`);
      }
    });
  }

  async ensureProject(name: string): Promise<boolean> {
    if (this.#prepare('SELECT 1 FROM projects WHERE name = ?').get(name) !== undefined) return false;
    return this.#write(
      () =>
        this.#prepare('INSERT OR IGNORE INTO projects (name, public, created_at) VALUES (?, 0, ?)').run(
          name,
          Date.now(),
        ).changes > 0,
    );
  }

  async setProjectPublic(name: string, isPublic: boolean): Promise<void> {
    this.#write(() => {
      const result = this.#prepare('UPDATE projects SET public = ? WHERE name = ?').run(
        isPublic ? 1 : 0,
        name,
      );
      if (result.changes === 0) throw new NotFoundError(`Cannot change project ${name}: no such project`);
    });
  }

  async deleteProject(name: string): Promise<void> {
    this.#write(() => {
      if (this.#prepare('DELETE FROM projects WHERE name = ?').run(name).changes === 0) {
        throw new NotFoundError(`Cannot remove project ${name}: no such project`);
      }
    });
  }

  async publicProjects(): Promise<string[]> {
    return (
      this.#prepare('SELECT name FROM projects WHERE public = 1 ORDER BY name').all() as Array<{
        name: string;
      }>
    ).map((row) => row.name);
  }

  // --- members ---------------------------------------------------------------------------------

  async listMembers(project: string): Promise<MemberRecord[]> {
    const rows = this.#prepare(
      'SELECT project, username, role FROM members WHERE project = ? ORDER BY username',
    ).all(project) as Array<{ project: string; username: string; role: Role }>;
    return rows.map((row) => ({ project: row.project, user: row.username, role: row.role }));
  }

  async setMember(project: string, user: string, role: Role): Promise<void> {
    this.#write(() => {
      if (this.#prepare('SELECT 1 FROM projects WHERE name = ?').get(project) === undefined) {
        throw new NotFoundError(`Cannot add ${user} to project ${project}: no such project`);
      }
      this.#prepare(
        `INSERT INTO members (project, username, role, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (project, username) DO UPDATE SET role = excluded.role`,
      ).run(project, user, role, Date.now());
    });
  }

  async removeMember(project: string, user: string): Promise<void> {
    this.#write(() => {
      if (
        this.#prepare('DELETE FROM members WHERE project = ? AND username = ?').run(project, user).changes ===
        0
      ) {
        throw new NotFoundError(`Cannot remove ${user} from project ${project}: not a member`);
      }
    });
  }

  async membershipsOf(user: string): Promise<MemberRecord[]> {
    const rows = this.#prepare(
      'SELECT project, username, role FROM members WHERE username = ? ORDER BY project',
    ).all(user) as Array<{ project: string; username: string; role: Role }>;
    return rows.map((row) => ({ project: row.project, user: row.username, role: row.role }));
  }

  // --- robots ----------------------------------------------------------------------------------

  #robotFromRow(row: RobotRow): RobotRecord {
    const permissions = (
      this.#prepare('SELECT project, actions FROM robot_permissions WHERE robot = ? ORDER BY project').all(
        row.name,
      ) as Array<{ project: string; actions: string }>
    ).map((permission) => ({
      project: permission.project,
      actions: permission.actions.split(',').filter((action) => action !== '') as Action[],
    }));
    const robot: RobotRecord = {
      name: row.name,
      secretHash: row.secret_hash,
      permissions,
      createdAt: new Date(row.created_at),
    };
    if (row.description !== null) robot.description = row.description;
    if (row.expires_at !== null) robot.expiresAt = new Date(row.expires_at);
    return robot;
  }

  async getRobot(name: string): Promise<RobotRecord | undefined> {
    const row = this.#prepare(
      'SELECT name, secret_hash, description, created_at, expires_at FROM robots WHERE name = ?',
    ).get(name) as RobotRow | undefined;
    return row ? this.#robotFromRow(row) : undefined;
  }

  async listRobots(): Promise<RobotRecord[]> {
    const rows = this.#prepare(
      'SELECT name, secret_hash, description, created_at, expires_at FROM robots ORDER BY name',
    ).all() as RobotRow[];
    return rows.map((row) => this.#robotFromRow(row));
  }

  async createRobot(robot: Omit<RobotRecord, 'createdAt'>): Promise<void> {
    this.#write(() => {
      const result = this.#prepare(
        'INSERT OR IGNORE INTO robots (name, secret_hash, description, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
      ).run(
        robot.name,
        robot.secretHash,
        robot.description ?? null,
        Date.now(),
        robot.expiresAt?.getTime() ?? null,
      );
      if (result.changes === 0) {
        throw new AlreadyExistsError(`Cannot create robot account ${robot.name}: it already exists`);
      }
      for (const permission of robot.permissions) {
        if (this.#prepare('SELECT 1 FROM projects WHERE name = ?').get(permission.project) === undefined) {
          throw new NotFoundError(
            `Cannot create robot account ${robot.name}: no project ${permission.project}`,
          );
        }
        this.#prepare(
          'INSERT OR REPLACE INTO robot_permissions (robot, project, actions) VALUES (?, ?, ?)',
        ).run(robot.name, permission.project, permission.actions.join(','));
      }
    });
  }

  async deleteRobot(name: string): Promise<void> {
    this.#write(() => {
      if (this.#prepare('DELETE FROM robots WHERE name = ?').run(name).changes === 0) {
        throw new NotFoundError(`Cannot remove robot account ${name}: no such robot`);
      }
    });
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

function userFromRow(row: UserRow): UserRecord {
  return {
    name: row.name,
    passwordHash: row.password_hash,
    admin: row.admin === 1,
    createdAt: new Date(row.created_at),
  };
}
