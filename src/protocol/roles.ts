/** The role lists as plain values (no zod), so the browser can check a role without bundling zod. */
export const USER_ROLES = ['admin', 'doctor', 'specialist'] as const;
/** An account's role, or `guest` for someone who came with an invite. */
export const ROLES = [...USER_ROLES, 'guest'] as const;

/** Whether a string is one of the consult roles. */
export const isRole = (r: string): r is (typeof ROLES)[number] =>
  (ROLES as readonly string[]).includes(r);
