/**
 * Size limits the client shows in its forms. Kept free of zod, so that the browser's entry
 * bundle can import them without building every schema of the protocol at start-up.
 */

/** Longest message a host can send to someone waiting in the lobby, in characters. */
export const LOBBY_MESSAGE_MAX_CHARS = 200;
