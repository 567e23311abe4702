import { z } from 'zod';
import type { AuthService } from '../../auth/AuthService.js';
import type { Store } from '../../store/repositories.js';
import type { Api } from '../route.js';
import {
  changePasswordBody,
  colleagueDto,
  createUserBody,
  idParams,
  pageOf,
  resetPasswordBody,
  toColleagueDto,
  toUserDto,
  updateUserBody,
  userDto,
  usersQuery,
} from '../schemas.js';

export function userRoutes(api: Api, auth: AuthService, store: Store): void {
  api.route(
    {
      method: 'get',
      path: '/users',
      tag: 'users',
      summary:
        'List users: admins see every account; doctors see only the enabled doctors and specialists they may invite (id, name, role)',
      auth: ['admin', 'doctor'],
      query: usersQuery,
      response: pageOf(z.union([userDto, colleagueDto])),
    },
    async ({ query, user }) => {
      const admin = user.role === 'admin';
      const page = await store.users.list(
        admin ? query : { ...query, roles: ['doctor', 'specialist'], enabledOnly: true },
      );
      return {
        items: admin ? page.items.map(toUserDto) : page.items.map(toColleagueDto),
        total: page.total,
        limit: query.limit,
        offset: query.offset,
      };
    },
  );
  api.route(
    {
      method: 'post',
      path: '/users',
      tag: 'users',
      summary: 'Create a user',
      auth: ['admin'],
      body: createUserBody,
      response: userDto,
      status: 201,
    },
    async ({ body, user, ip }) =>
      toUserDto(await auth.createUser(body, { id: user.sub, label: user.name }, ip)),
  );
  api.route(
    {
      method: 'patch',
      path: '/users/:id',
      tag: 'users',
      summary: "Disable or re-enable a user, or change their role (ends the user's sessions)",
      auth: ['admin'],
      params: idParams,
      body: updateUserBody,
      response: userDto,
    },
    async ({ params, body, user, ip }) => {
      const actor = { id: user.sub, label: user.name };
      let changed =
        body.role === undefined ? null : await auth.setRole(params.id, body.role, actor, ip);
      if (body.disabled !== undefined)
        changed = await auth.setDisabled(params.id, body.disabled, actor, ip);
      return toUserDto(changed!);
    },
  );
  api.route(
    {
      method: 'put',
      path: '/users/me/password',
      tag: 'users',
      summary:
        'Change your own password (the current one is checked like a login; ends your refresh tokens)',
      auth: 'user',
      body: changePasswordBody,
    },
    async ({ body, user, ip }) => {
      await auth.changePassword(user.sub, body.currentPassword, body.newPassword, ip);
      return undefined;
    },
  );
  api.route(
    {
      method: 'put',
      path: '/users/:id/password',
      tag: 'users',
      summary: "Set another user's password (ends their refresh tokens)",
      auth: ['admin'],
      params: idParams,
      body: resetPasswordBody,
    },
    async ({ params, body, user, ip }) => {
      await auth.resetPassword(params.id, body.newPassword, { id: user.sub, label: user.name }, ip);
      return undefined;
    },
  );
}
