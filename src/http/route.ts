/**
 * Declares an API route once: its zod schemas parse the path, query and body (400 with the
 * failing fields otherwise), its auth rule is enforced (401/403), and the same declaration
 * feeds the OpenAPI document.
 */
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { AccessClaims } from '../auth/accessTokens.js';
import { verifyAccessToken } from '../auth/accessTokens.js';
import type { UserRole } from '../store/repositories.js';
import { GatewayError } from '../errors.js';

export type Auth = 'public' | 'user' | UserRole[];

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express path, e.g. /consults/:id */
  path: string;
  summary: string;
  tag: string;
  auth: Auth;
  params?: P;
  query?: Q;
  body?: B;
  /** Schema of the success body (documentation only). */
  response?: z.ZodType;
  status?: number;
}

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** The caller's access-token claims (undefined on public routes). */
  user: AccessClaims;
  ip: string;
  req: Request;
  res: Response;
}

export interface AuthChecker {
  secret: string;
  /** Throws (401) for tokens of accounts disabled, removed or revoked after the token was issued. */
  assertCurrent(claims: AccessClaims): Promise<void>;
}

function parse<T extends z.ZodType>(
  schema: T | undefined,
  value: unknown,
  what: string,
): z.infer<T> {
  if (!schema) return undefined as z.infer<T>;
  const r = schema.safeParse(value);
  if (!r.success) throw GatewayError.fromZod(r.error, what);
  return r.data;
}

export async function authenticate(req: Request, checker: AuthChecker): Promise<AccessClaims> {
  const header = req.get('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match)
    throw new GatewayError('unauthorized', 'send an access token: Authorization: Bearer <token>');
  const claims = verifyAccessToken(checker.secret, match[1]!);
  await checker.assertCurrent(claims);
  return claims;
}

/** A set of API routes on one Express router, remembered for the OpenAPI document. */
export class Api {
  readonly routes: RouteSpec<z.ZodType, z.ZodType, z.ZodType>[] = [];

  constructor(
    readonly router: Router,
    private readonly checker: AuthChecker,
  ) {}

  route<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R>(
    spec: RouteSpec<P, Q, B>,
    handler: (ctx: RouteContext<z.infer<P>, z.infer<Q>, z.infer<B>>) => Promise<R> | R,
  ): void {
    this.routes.push(spec as unknown as RouteSpec<z.ZodType, z.ZodType, z.ZodType>);
    addRoute(this.router, this.checker, spec, handler);
  }

  openApi(base: string) {
    return openApiDocument(base, this.routes);
  }
}

function addRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R>(
  router: Router,
  checker: AuthChecker,
  spec: RouteSpec<P, Q, B>,
  handler: (ctx: RouteContext<z.infer<P>, z.infer<Q>, z.infer<B>>) => Promise<R> | R,
): void {
  router[spec.method](spec.path, async (req: Request, res: Response) => {
    let user = undefined as unknown as AccessClaims;
    if (spec.auth !== 'public') {
      user = await authenticate(req, checker);
      if (Array.isArray(spec.auth) && !spec.auth.includes(user.role)) {
        throw new GatewayError('forbidden', `this needs the ${spec.auth.join(' or ')} role`);
      }
    }
    const params = parse(spec.params, req.params, 'path parameters');
    const query = parse(spec.query, req.query, 'query');
    const body = parse(spec.body, req.body ?? {}, 'body');
    const result = await handler({ params, query, body, user, ip: req.ip ?? 'unknown', req, res });
    if (result === undefined) res.status(204).end();
    else res.status(spec.status ?? 200).json(result);
  });
}

/** The OpenAPI 3.1 document of every registered route, generated from the same zod schemas. */
function openApiDocument(base: string, routes: RouteSpec<z.ZodType, z.ZodType, z.ZodType>[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  const json = (s: z.ZodType, io: 'input' | 'output') =>
    z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' });
  for (const r of routes) {
    const path = (base + r.path).replace(/:(\w+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', r.params],
      ['query', r.query],
    ] as const) {
      const props = (schema ? json(schema, 'input') : {}) as {
        properties?: Record<string, unknown>;
        required?: string[];
      };
      for (const [name, s] of Object.entries(props.properties ?? {})) {
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (props.required ?? []).includes(name),
          schema: s,
        });
      }
    }
    const errors = Object.fromEntries(
      ['400', '401', '403', '404', '409', '429'].map((code) => [
        code,
        { $ref: '#/components/responses/Error' },
      ]),
    );
    paths[path] ??= {};
    paths[path][r.method] = {
      summary: r.summary,
      tags: [r.tag],
      security: r.auth === 'public' ? [] : [{ bearer: [] }],
      parameters,
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: json(r.body, 'input') } },
            },
          }
        : {}),
      responses: {
        [String(r.status ?? (r.response ? 200 : 204))]: r.response
          ? {
              description: 'OK',
              content: { 'application/json': { schema: json(r.response, 'output') } },
            }
          : { description: 'No content' },
        ...errors,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Telemedicine session gateway API', version: '1' },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      responses: {
        Error: {
          description: 'Error',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['error'],
                properties: {
                  error: {
                    type: 'object',
                    required: ['code', 'message'],
                    properties: {
                      code: { type: 'string' },
                      message: { type: 'string' },
                      issues: { type: 'array', items: { type: 'object' } },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}
