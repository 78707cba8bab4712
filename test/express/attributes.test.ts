/**
 * The pure parts of the express instrumentation: how paths become templates, names and attributes.
 */
import { describe, expect, it } from 'vitest';
import {
  innerPrefix,
  isRouterHandle,
  isRoutingSignal,
  joinTemplate,
  layerAttributes,
  middlewareSpanName,
  renderPath,
  renderPathElements,
  requestHandlerSpanName,
  routerSpanName,
  usePathArgument,
} from '../../instrumentations/express/attributes';
import { LayerInfo, LayerKind } from '../../instrumentations/express/layer-info';

describe('renderPath', () => {
  it('keeps string paths as written and renders regular expressions as their literal', () => {
    expect(renderPath('/users/:id')).toBe('/users/:id');
    expect(renderPath('/files/*splat')).toBe('/files/*splat');
    expect(renderPath('/users{/:id}')).toBe('/users{/:id}');
    expect(renderPath('')).toBe('/');
    expect(renderPath(/^\/v\d+$/i)).toBe('/^\\/v\\d+$/i');
    expect(renderPath(undefined)).toBe('/');
  });

  it('flattens arrays as express does', () => {
    expect(renderPathElements(['/a', ['/b', ['/c/:x']], /x/])).toEqual(['/a', '/b', '/c/:x', '/x/']);
    expect(renderPath(['/a', '/b'])).toBe('/a,/b');
  });
});

describe('usePathArgument', () => {
  it('finds the mount path the way Router#use does', () => {
    const fn = () => {};
    expect(usePathArgument(fn)).toBe('/');
    expect(usePathArgument([fn, fn])).toBe('/');
    expect(usePathArgument([[fn]])).toBe('/');
    expect(usePathArgument('/api')).toBe('/api');
    expect(usePathArgument(['/a', '/b'])).toEqual(['/a', '/b']);
    const re = /^\/x/;
    expect(usePathArgument(re)).toBe(re);
  });
});

describe('joinTemplate and innerPrefix', () => {
  it("joins a router's prefix and a path; a router's root adds nothing", () => {
    expect(joinTemplate('', '/')).toBe('/');
    expect(joinTemplate('', '/users/:id')).toBe('/users/:id');
    expect(joinTemplate('/api', '/')).toBe('/api');
    expect(joinTemplate('/api', '/users')).toBe('/api/users');
    expect(joinTemplate('/api', 'users')).toBe('/api/users');
    expect(joinTemplate('', 'users')).toBe('/users');
    expect(joinTemplate('/api', '/^\\/v\\d+$/')).toBe('/api/^\\/v\\d+$/');
  });

  it('gives the layers inside a router a prefix without trailing slash', () => {
    expect(innerPrefix('/')).toBe('');
    expect(innerPrefix('/api')).toBe('/api');
    expect(innerPrefix('/api/')).toBe('/api');
    expect(innerPrefix('/api//')).toBe('/api');
  });
});

describe('span names and attributes', () => {
  it('names layers as users of other agents know them, without "router - /"', () => {
    expect(middlewareSpanName('jsonParser')).toBe('middleware - jsonParser');
    expect(requestHandlerSpanName('/users/:id')).toBe('request handler - /users/:id');
    expect(routerSpanName('/api')).toBe('router - /api');
    expect(routerSpanName('/')).toBe('router');
    expect(routerSpanName('')).toBe('router');
  });

  it('carries express.name, express.type and http.route', () => {
    expect(layerAttributes('auth', 'middleware', '/api')).toEqual({
      'express.name': 'auth',
      'express.type': 'middleware',
      'http.route': '/api',
    });
  });

  it('tells routers, sub-applications and routing signals apart', () => {
    const router = Object.assign(function router() {}, { handle() {}, stack: [] });
    expect(isRouterHandle(router)).toBe(true);
    expect(isRouterHandle(function mounted_app() {})).toBe(true);
    expect(isRouterHandle(function jsonParser() {})).toBe(false);
    expect(isRouterHandle(undefined)).toBe(false);
    expect(isRoutingSignal('route')).toBe(true);
    expect(isRoutingSignal('router')).toBe(true);
    expect(isRoutingSignal(new Error('route'))).toBe(false);
  });
});

describe('LayerInfo', () => {
  it('computes a mount template once per prefix', () => {
    const info = new LayerInfo(LayerKind.ROUTER, '/users/');
    info.mountedAt('/api', info.segment, 'router');
    expect(info.template).toBe('/api/users/');
    expect(info.inner).toBe('/api/users');
    expect(info.spanName).toBe('router - /api/users/');
    const attributes = info.attributes;
    info.mountedAt('/api', info.segment, 'router');
    expect(info.attributes).toBe(attributes);
    info.mountedAt('/v2', info.segment, 'router');
    expect(info.template).toBe('/v2/users/');
  });

  it('names a route and the routers around it', () => {
    const info = new LayerInfo(LayerKind.ROUTE, '/');
    expect(info.routeAt('/api', info.segment)).toBe('/api');
    expect(info.routerName).toBe('router - /api');
    expect(info.routeAt('', info.segment)).toBe('/');
    expect(info.routerName).toBe('router');
  });

  it('keeps the elements of a path array', () => {
    const info = new LayerInfo(LayerKind.ROUTE, ['/a', ['/b/:x']]);
    expect(info.elements).toEqual(['/a', '/b/:x']);
    expect(info.segment).toBe('/a,/b/:x');
    expect(new LayerInfo(LayerKind.ROUTE, [['/only']]).elements).toBeUndefined();
    expect(new LayerInfo(LayerKind.ROUTE, [['/only']]).segment).toBe('/only');
  });
});
