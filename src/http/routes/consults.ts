import type { ConsultService } from '../../consults/ConsultService.js';
import type { Api } from '../route.js';
import {
  consultDto,
  consultsQuery,
  createConsultBody,
  createInviteBody,
  idParams,
  inviteDto,
  inviteParams,
  joinGrantResponse,
  pageOf,
  redeemInviteBody,
  scheduledConsultDto,
  toConsultDto,
  toInviteDto,
  updateConsultBody,
} from '../schemas.js';
import { z } from 'zod';
import type { InviteMailer } from '../../consults/InviteMailer.js';

const ms = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso));

/** Invite links open the client's consult page, which redeems the token. */
export function consultRoutes(
  api: Api,
  consults: ConsultService,
  /** Resolves user ids to display names (unknown ids show as the id). */
  namesOf: (userIds: string[]) => Promise<(userId: string) => string>,
  publicUrl: () => string,
  /** How many wait in a consult's waiting room (for the host's dashboard badge). */
  waitingCount: (consultId: string) => number | Promise<number> = () => 0,
  /** E-mails the invite links made at scheduling (when SMTP_URL is set). */
  mailer?: InviteMailer,
): void {
  const dto = async (c: Parameters<typeof toConsultDto>[0]) =>
    toConsultDto(c, await namesOf([c.hostId, ...c.specialistIds]));
  api.route(
    {
      method: 'post',
      path: '/consults',
      tag: 'consults',
      summary: 'Schedule a consult',
      auth: ['admin', 'doctor'],
      body: createConsultBody,
      response: scheduledConsultDto,
      status: 201,
    },
    async ({ body, user, ip }) => {
      const { consult, invites } = await consults.createWithInvites(
        { claims: user, ip },
        {
          ...body,
          scheduledStart: ms(body.scheduledStart)!,
          scheduledEnd: ms(body.scheduledEnd)!,
        },
      );
      // Each guest entered gets a link now; e-mail is extra and never holds the links back.
      const links = await Promise.all(
        invites.map(async ({ guestId, invite, token }) => {
          const url = `${publicUrl()}/?invite=${token}`;
          const emailed = mailer
            ? await mailer.send({
                to: invite.email,
                guestName: invite.guestName,
                consultTitle: consult.title,
                start: consult.scheduledStart,
                url,
              })
            : ('not_configured' as const);
          return {
            guestId,
            inviteId: invite.id,
            name: invite.guestName,
            email: invite.email,
            url,
            token,
            emailed,
          };
        }),
      );
      return { ...(await dto(consult)), invites: links };
    },
  );
  api.route(
    {
      method: 'get',
      path: '/consults',
      tag: 'consults',
      summary: 'List the consults you may see',
      auth: 'user',
      query: consultsQuery,
      response: pageOf(consultDto),
    },
    async ({ query, user }) => {
      const page = await consults.list(user, { ...query, from: ms(query.from), to: ms(query.to) });
      const manages = (c: { hostId: string }) => user.role === 'admin' || c.hostId === user.sub;
      const items = await Promise.all(
        page.items.map(async (c) =>
          manages(c) && (c.status === 'open' || c.status === 'live')
            ? { ...(await dto(c)), waiting: await waitingCount(c.id) }
            : dto(c),
        ),
      );
      return {
        items,
        total: page.total,
        limit: query.limit,
        offset: query.offset,
      };
    },
  );
  api.route(
    {
      method: 'get',
      path: '/consults/:id',
      tag: 'consults',
      summary: 'Get a consult',
      auth: 'user',
      params: idParams,
      response: consultDto,
    },
    async ({ params, user }) => await dto(await consults.get(user, params.id)),
  );
  api.route(
    {
      method: 'patch',
      path: '/consults/:id',
      tag: 'consults',
      summary: 'Update or reschedule a consult',
      auth: ['admin', 'doctor'],
      params: idParams,
      body: updateConsultBody,
      response: consultDto,
    },
    async ({ params, body, user, ip }) =>
      await dto(
        await consults.update({ claims: user, ip }, params.id, {
          ...body,
          scheduledStart: ms(body.scheduledStart),
          scheduledEnd: ms(body.scheduledEnd),
        }),
      ),
  );
  api.route(
    {
      method: 'post',
      path: '/consults/:id/cancel',
      tag: 'consults',
      summary: 'Cancel a consult',
      auth: ['admin', 'doctor'],
      params: idParams,
      response: consultDto,
    },
    async ({ params, user, ip }) =>
      await dto(await consults.cancel({ claims: user, ip }, params.id)),
  );
  api.route(
    {
      method: 'post',
      path: '/consults/:id/end',
      tag: 'consults',
      summary: 'End a live or open consult for everyone',
      auth: ['admin', 'doctor'],
      params: idParams,
      response: consultDto,
    },
    async ({ params, user, ip }) =>
      await dto(await consults.endAsHost({ claims: user, ip }, params.id)),
  );
  api.route(
    {
      method: 'post',
      path: '/consults/:id/join',
      tag: 'consults',
      summary: 'Get a join grant (Socket.IO token) for this consult',
      auth: 'user',
      params: idParams,
      response: joinGrantResponse,
    },
    ({ params, user, ip }) => consults.issueJoinGrant({ claims: user, ip }, params.id),
  );
  api.route(
    {
      method: 'post',
      path: '/consults/:id/invites',
      tag: 'invites',
      summary: 'Create an invite link for an external guest',
      auth: ['admin', 'doctor'],
      params: idParams,
      body: createInviteBody,
      response: z.object({ invite: inviteDto, url: z.string(), token: z.string() }),
      status: 201,
    },
    async ({ params, body, user, ip }) => {
      const { invite, token } = await consults.createInvite({ claims: user, ip }, params.id, body);
      return { invite: toInviteDto(invite), token, url: `${publicUrl()}/?invite=${token}` };
    },
  );
  api.route(
    {
      method: 'get',
      path: '/consults/:id/invites',
      tag: 'invites',
      summary: 'List a consult’s invites',
      auth: ['admin', 'doctor'],
      params: idParams,
      response: z.object({ items: z.array(inviteDto) }),
    },
    async ({ params, user }) => ({
      items: (await consults.listInvites(user, params.id)).map(toInviteDto),
    }),
  );
  api.route(
    {
      method: 'delete',
      path: '/consults/:id/invites/:inviteId',
      tag: 'invites',
      summary: 'Revoke an invite (disconnects a guest who used it)',
      auth: ['admin', 'doctor'],
      params: inviteParams,
      response: inviteDto,
    },
    async ({ params, user, ip }) =>
      toInviteDto(await consults.revokeInvite({ claims: user, ip }, params.id, params.inviteId)),
  );
  api.route(
    {
      method: 'post',
      path: '/invites/redeem',
      tag: 'invites',
      summary: 'Exchange an invite link’s token for a guest join grant',
      auth: 'public',
      body: redeemInviteBody,
      response: joinGrantResponse.extend({ guestName: z.string(), consultTitle: z.string() }),
    },
    ({ body, ip }) => consults.redeemInvite(body.token, ip),
  );
}
