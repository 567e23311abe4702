import { z } from 'zod';
import type { AuthService } from '../../auth/AuthService.js';
import type { Store } from '../../store/repositories.js';
import type { Api } from '../route.js';
import {
  colleagueDto,
  createUserBody,
  idParams,
  pageOf,
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
    ({ query, user }) => {
      const admin = user.role === 'admin';
      const page = store.users.list(
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
      summary: 'Disable or re-enable a user',
      auth: ['admin'],
      params: idParams,
      body: updateUserBody,
      response: userDto,
    },
    ({ params, body, user, ip }) =>
      toUserDto(auth.setDisabled(params.id, body.disabled, { id: user.sub, label: user.name }, ip)),
  );
}
