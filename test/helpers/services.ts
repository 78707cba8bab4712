/**
 * The real PostgreSQL and Redis the tests talk to. Their addresses come from PGHOST/PGPORT/PGUSER/PGDATABASE
 * and REDIS_URL (defaults: 127.0.0.1:5432, user postgres, database test; redis://127.0.0.1:6379). When a server
 * does not answer, the test fails with a message saying which and how to start it — never a silent skip.
 */
import * as net from 'node:net';

export const PG = {
  host: process.env.PGHOST || '127.0.0.1',
  port: Number(process.env.PGPORT || 5432),
  user: process.env.PGUSER || 'postgres',
  database: process.env.PGDATABASE || 'test',
  password: process.env.PGPASSWORD,
};

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** Environment for child processes that connect to the same servers. */
export function serviceEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: PG.host,
    PGPORT: String(PG.port),
    PGUSER: PG.user,
    PGDATABASE: PG.database,
    REDIS_URL,
  };
  if (PG.password !== undefined) env.PGPASSWORD = PG.password;
  return env;
}

function probe(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function requirePostgres(): Promise<void> {
  if (!(await probe(PG.host, PG.port))) {
    throw new Error(
      `PostgreSQL does not answer at ${PG.host}:${PG.port} (PGHOST/PGPORT). These tests need a real server: ` +
        `start it with \`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\` or point PGHOST/PGPORT at one.`,
    );
  }
}

export async function requireRedis(): Promise<void> {
  const url = new URL(REDIS_URL);
  if (!(await probe(url.hostname, Number(url.port || 6379)))) {
    throw new Error(
      `Redis does not answer at ${url.host} (REDIS_URL). These tests need a real server: start it with ` +
        `\`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no\` or set REDIS_URL.`,
    );
  }
}
