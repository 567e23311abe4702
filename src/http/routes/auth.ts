import type { AuthService } from '../../auth/AuthService.js';
import type { Api } from '../route.js';
import { loginBody, publicUser, refreshBody, sessionResponse } from '../schemas.js';

export function authRoutes(api: Api, auth: AuthService): void {
  api.route(
    {
      method: 'post',
      path: '/auth/login',
      tag: 'auth',
      summary: 'Log in with e-mail and password',
      auth: 'public',
      body: loginBody,
      response: sessionResponse,
    },
    ({ body, ip }) => auth.login(body.email, body.password, ip),
  );
  api.route(
    {
      method: 'post',
      path: '/auth/refresh',
      tag: 'auth',
      summary: 'Rotate a refresh token for a new session',
      auth: 'public',
      body: refreshBody,
      response: sessionResponse,
    },
    ({ body, ip }) => auth.refresh(body.refreshToken, ip),
  );
  api.route(
    {
      method: 'post',
      path: '/auth/logout',
      tag: 'auth',
      summary: 'Revoke a refresh token (and its rotations)',
      auth: 'public',
      body: refreshBody,
    },
    async ({ body, ip }) => {
      await auth.logout(body.refreshToken, ip);
      return undefined;
    },
  );
  api.route(
    {
      method: 'get',
      path: '/auth/me',
      tag: 'auth',
      summary: 'The logged-in user',
      auth: 'user',
      response: publicUser.omit({ email: true }),
    },
    ({ user }) => ({ id: user.sub, name: user.name, role: user.role }),
  );
}
