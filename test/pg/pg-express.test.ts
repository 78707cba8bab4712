/**
 * A pg query made in an express route handler under the preload is a child of the handler: of the express
 * instrumentation's request_handler span, which must exist (itself a child of the SERVER span).
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, startApp, type RunningApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { PG, requirePostgres, serviceEnv } from '../helpers/services';
import { FIXTURES } from './pg-helpers';

const SERVER = 1;
const CLIENT = 2;
const INTERNAL = 0;

let receiver: Receiver;
let app: RunningApp;

beforeAll(async () => {
  await requirePostgres();
  receiver = await Receiver.start();
  app = await startApp(path.join(FIXTURES, 'express-app.cjs'), { env: { ...receiver.env(), ...serviceEnv() } });
});

afterAll(async () => {
  await app?.stop();
  await receiver?.close();
});

describe('pg in an express handler', () => {
  it('is a child of the express request_handler span', async () => {
    const response = await httpRequest(`http://127.0.0.1:${app.port}/users/42`);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ id: 42, db: PG.database });

    const spans = await receiver.waitFor((all) => all.some((s) => s.kind === SERVER) && all.some((s) => s.attributes['db.query.text']?.startsWith('SELECT $1::int')));
    const server = spans.find((s) => s.kind === SERVER)!;
    await receiver.waitFor((all) => all.filter((s) => s.traceId === server.traceId).every((s) => s.parentSpanId === undefined || all.some((p) => p.spanId === s.parentSpanId)));
    const trace = receiver.spans.filter((s) => s.traceId === server.traceId);
    const query = trace.find((s) => s.kind === CLIENT && s.attributes['db.query.text'] !== undefined)!;
    expect(query).toBeDefined();
    expect(query.name).toBe('SELECT');
    expect(query.attributes['db.query.text']).toBe('SELECT $1::int AS id, current_database() AS db');

    const handler = trace.find((s) => s.kind === INTERNAL && s.attributes['express.type'] === 'request_handler');
    expect(handler, 'express made a request_handler span for the route').toBeDefined();
    expect(handler!.name).toBe('request handler - /users/:id');
    expect(handler!.attributes['http.route']).toBe('/users/:id');
    expect(handler!.parentSpanId).toBe(server.spanId);
    expect(query.parentSpanId).toBe(handler!.spanId);
  });
});
